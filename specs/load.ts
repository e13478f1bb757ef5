/**
 * Loads the semantics (specs/rules, ops, kernels.yaml, divergences) and the built-in selftest cases from YAML,
 * with one KptrError line naming file, YAML path and what was expected when anything is off.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Document, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { KptrError, type KptrErrorCode } from '../errors/KptrError.ts';
import type { Scenario, SelftestCase, Spec } from '../types/index.ts';
import { checkScenarioRefs } from './checkScenarioRefs.ts';
import { readScenario } from './scenarioSchema.ts';
import { ShapeError, child } from './shape.ts';
import { readDivergence, readKernels, readOpContract, readRule, readSelftestFile } from './specSchema.ts';
import { compareVersions } from './versionRange.ts';
import { OP_KINDS } from './vocabulary.ts';

/** The repository's specs/ directory. */
export const SPEC_DIR = dirname(fileURLToPath(import.meta.url));

const HINTS: Partial<Record<KptrErrorCode, string>> = {
  KPTR_SPEC_INVALID: 'fix that file so it matches types/spec.ts (the other files in specs/ are examples)',
  KPTR_SCENARIO_INVALID: 'fix the scenario file so it matches types/scenario.ts',
};

/** A path as the user should see it: relative to the working directory when inside it. */
function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') || rel === '' ? file : rel;
}

function fail(code: KptrErrorCode, file: string, message: string, cause?: unknown): never {
  throw new KptrError(code, `${display(file)}: ${message}`, HINTS[code] ?? '', { cause });
}

/** Parses one YAML file; a syntax error becomes `file:line:col: message`. */
function readYaml(file: string, code: KptrErrorCode): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return fail(code, file, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, error);
  }
  const doc = parseDocument(text);
  const error = doc.errors[0];
  if (error !== undefined) {
    const pos = error.linePos?.[0];
    const where = pos === undefined ? display(file) : `${display(file)}:${pos.line}:${pos.col}`;
    throw new KptrError(code, `${where}: ${(error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`, HINTS[code] ?? '', { cause: error });
  }
  try {
    // the built-in cases share structs and op lists through anchors, far beyond yaml's default of 100 aliases
    return doc.toJS({ maxAliasCount: -1 });
  } catch (cause) {
    return fail(code, file, (cause as Error).message, cause);
  }
}

/** Runs a shape reader on one file's content and turns a ShapeError into the loader's one-line error. */
function shaped<T>(file: string, code: KptrErrorCode, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ShapeError) return fail(code, file, error.message, error);
    throw error;
  }
}

function yamlFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    return fail('KPTR_SPEC_INVALID', dir, 'cannot list the directory', error);
  }
  return names.filter((n) => n.endsWith('.yaml')).sort().map((n) => join(dir, n));
}

/** Reads every file of a folder whose content's `key` must equal its file name (`rules/ref.leak.yaml` has `id: ref.leak`). */
function readNamed<T extends Record<K, string>, K extends string>(dir: string, key: K, read: (v: unknown, path: string) => T): { file: string; value: T }[] {
  return yamlFiles(dir).map((file) => {
    const value = shaped(file, 'KPTR_SPEC_INVALID', () => read(readYaml(file, 'KPTR_SPEC_INVALID'), ''));
    const expected = basename(file, '.yaml');
    if (value[key] !== expected) fail('KPTR_SPEC_INVALID', file, new ShapeError(key, `'${expected}' (the file name)`, `'${value[key]}'`).message);
    return { file, value };
  });
}

/**
 * Loads and cross-checks the semantics: every op kind has a contract, ops and divergences name existing rules,
 * kernel rows ascend. Every message range was parsed by the readers.
 * @throws KptrError KPTR_SPEC_INVALID naming file, YAML path and what was expected
 */
export function loadSpec(dir: string = SPEC_DIR): Spec {
  const rules = readNamed(join(dir, 'rules'), 'id', readRule);
  const ruleIds = new Set(rules.map((r) => r.value.id));
  const ops = readNamed(join(dir, 'ops'), 'op', readOpContract);
  for (const { file, value } of ops) {
    value.rules.forEach((id, i) => {
      if (!ruleIds.has(id)) fail('KPTR_SPEC_INVALID', file, new ShapeError(`rules[${i}]`, 'an existing rule id', `'${id}'`).message);
    });
  }
  const missingOp = OP_KINDS.find((k) => !ops.some((o) => o.value.op === k));
  if (missingOp !== undefined) fail('KPTR_SPEC_INVALID', join(dir, 'ops', `${missingOp}.yaml`), 'missing: every op kind of types/scenario.ts needs a contract');
  const kernelsFile = join(dir, 'kernels.yaml');
  const kernels = shaped(kernelsFile, 'KPTR_SPEC_INVALID', () => readKernels(readYaml(kernelsFile, 'KPTR_SPEC_INVALID'), ''));
  kernels.forEach((row, i) => {
    const previous = kernels[i - 1];
    if (previous !== undefined && compareVersions(previous.version, row.version) >= 0) {
      fail('KPTR_SPEC_INVALID', kernelsFile, new ShapeError(`kernels[${i}].version`, `a version above ${previous.version} (rows ascend)`, `'${row.version}'`).message);
    }
  });
  const divergences = readNamed(join(dir, 'divergences'), 'id', readDivergence);
  for (const { file, value } of divergences) {
    if (value.kind !== 'value' && !ruleIds.has(value.rule)) fail('KPTR_SPEC_INVALID', file, new ShapeError('rule', 'an existing rule id', `'${value.rule}'`).message);
  }
  return Object.freeze({
    rules: Object.freeze(rules.map((r) => r.value)),
    ops: Object.freeze(OP_KINDS.map((k) => ops.find((o) => o.value.op === k)!.value)),
    kernels,
    divergences: Object.freeze(divergences.map((d) => d.value)),
  });
}

/** Cross-checks one case against the spec and its own scenario; returns the problem as a ShapeError, or null. */
function caseProblem(c: SelftestCase, path: string, spec: Spec): ShapeError | null {
  const s = c.scenario;
  if (s.intent.kind === 'break' && !spec.rules.some((r) => r.id === (s.intent as { rule: string }).rule)) {
    return new ShapeError(child(path, 'scenario.intent.rule'), 'an existing rule id', `'${s.intent.rule}'`);
  }
  const divergence = c.divergences.findIndex((id) => !spec.divergences.some((d) => d.id === id));
  if (divergence >= 0) return new ShapeError(child(path, `divergences[${divergence}]`), 'an existing divergence id', `'${c.divergences[divergence]}'`);
  const program = c.expect.programs.findIndex((e) => !s.programs.some((p) => p.name === e.program));
  if (program >= 0) return new ShapeError(child(path, `expect.programs[${program}].program`), 'a program of the scenario', `'${c.expect.programs[program]!.program}'`);
  const global = Object.keys(c.expect.globals).find((g) => !s.globals.some((x) => x.name === g));
  if (global !== undefined) return new ShapeError(child(path, `expect.globals.${global}`), 'a global of the scenario', `'${global}'`);
  const refs = checkScenarioRefs(s);
  if (refs.length > 0) return new ShapeError(child(path, 'scenario'), 'consistent references', refs.join('; '));
  return null;
}

/**
 * Loads the built-in cases (specs/selftests/*.yaml), checking each scenario's shape and references, that its
 * divergence and rule ids exist in `spec`, and that scenario ids are unique across all files.
 * @throws KptrError KPTR_SPEC_INVALID
 */
export function loadSelftests(dir: string = join(SPEC_DIR, 'selftests'), spec: Spec = loadSpec()): SelftestCase[] {
  const all: SelftestCase[] = [];
  const ids = new Map<string, string>();
  for (const file of yamlFiles(dir)) {
    const cases = shaped(file, 'KPTR_SPEC_INVALID', () => readSelftestFile(readYaml(file, 'KPTR_SPEC_INVALID'), ''));
    cases.forEach((c, i) => {
      const problem = caseProblem(c, `cases[${i}]`, spec);
      if (problem !== null) fail('KPTR_SPEC_INVALID', file, problem.message, problem);
      const first = ids.get(c.scenario.id);
      if (first !== undefined) fail('KPTR_SPEC_INVALID', file, `cases[${i}].scenario.id: expected an id unused by other cases, got '${c.scenario.id}' (also in ${first})`);
      ids.set(c.scenario.id, display(file));
      all.push(c);
    });
  }
  return all;
}

/**
 * Reads a scenario YAML (or JSON) file, e.g. a reproducer or a regression.
 * @throws KptrError KPTR_SCENARIO_INVALID naming file, YAML path and what was expected
 */
export function loadScenarioFile(path: string): Scenario {
  return shaped(path, 'KPTR_SCENARIO_INVALID', () => readScenario(readYaml(path, 'KPTR_SCENARIO_INVALID'), ''));
}

/** YAML for a scenario that loadScenarioFile reads back to an equal value; every mapping of scalars is one line. */
export function scenarioToYaml(s: Scenario): string {
  const doc = new Document(s);
  flowScalarMaps(doc.contents);
  return doc.toString({ lineWidth: 0 });
}

/** Marks a mapping whose values are scalars or such mappings as flow style (`{ op: drop, var: p, percpu: true }`). */
function flowScalarMaps(node: unknown): boolean {
  if (isSeq(node)) {
    node.items.forEach(flowScalarMaps);
    return false;
  }
  if (!isMap(node)) return isScalar(node);
  const flat = node.items.map((pair) => flowScalarMaps(pair.value)).every(Boolean);
  node.flow = flat;
  return flat;
}
