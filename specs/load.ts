/**
 * Loads the semantics (specs/rules, ops, kernels.yaml, divergences) and the built-in selftest cases from YAML,
 * with one KptrError line naming file, YAML path and what was expected when anything is off.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Document, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, visit } from 'yaml';
import { KptrError, type KptrErrorCode } from '../errors/KptrError.ts';
import type { Divergence, KernelFeatures, LifetimeContract, MapOpContract, OpContract, Rule, Scenario, SelftestCase, Spec } from '../types/index.ts';
import { checkScenarioRefs } from './checkScenarioRefs.ts';
import { matchSchema, type SchemaName } from './matchSchema.ts';
import { ShapeError, child } from './shape.ts';
import { compareVersions } from './versionRange.ts';
import { LIFETIME_STEP_KINDS, MAP_OP_KINDS, OP_KINDS } from './vocabulary.ts';

/** The repository's specs/ directory. */
export const SPEC_DIR = dirname(fileURLToPath(import.meta.url));

/**
 * What one YAML file may cost before its content is even looked at (scenario and corpus files come from outside):
 * its size, the aliases it resolves (the built-in cases share structs and op lists through anchors: 116 at most
 * today), and the values and nesting depth it expands to.
 */
export const YAML_LIMITS = Object.freeze({ bytes: 1 << 20, aliases: 1000, values: 200_000, depth: 64 });

const HINTS: Partial<Record<KptrErrorCode, string>> = {
  KPTR_SPEC_INVALID: 'fix that file so it matches its schema in specs/schema/ (the other files in specs/ are examples)',
  KPTR_SCENARIO_INVALID: 'fix the scenario file so it matches specs/schema/scenario.schema.json',
  KPTR_USAGE: 'pass a directory of scenario .yaml files (specs/regressions/ is one)',
};

/** A path as the user should see it: relative to the working directory when inside it. */
function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') || rel === '' ? file : rel;
}

function fail(code: KptrErrorCode, file: string, message: string, cause?: unknown): never {
  throw new KptrError(code, `${display(file)}: ${message}`, HINTS[code] ?? '', { cause });
}

/** The node each alias names: the latest anchor of that name before it, in document order (as YAML resolves it). */
function aliasTargets(doc: Document): Map<unknown, unknown> {
  const anchors = new Map<string, unknown>();
  const targets = new Map<unknown, unknown>();
  visit(doc, (_, node) => {
    if (isAlias(node)) targets.set(node, anchors.get(node.source));
    else if ((isMap(node) || isSeq(node) || isScalar(node)) && node.anchor !== undefined) anchors.set(node.anchor, node);
  });
  return targets;
}

/** Whether a YAML document stays within YAML_LIMITS once its aliases are expanded; each node is measured once. */
function withinLimits(doc: Document): boolean {
  const targets = aliasTargets(doc);
  const known = new Map<unknown, { values: number; depth: number }>();
  const open = new Set<unknown>();
  const measure = (node: unknown): { values: number; depth: number } | null => {
    const target = isAlias(node) ? targets.get(node) : node;
    const seen = known.get(target);
    if (seen !== undefined) return seen;
    if (open.has(target)) return null; // an alias inside the node it names
    open.add(target);
    let values = 1;
    let depth = 0;
    const parts = isMap(target) || isSeq(target) ? (target.items as unknown[]).flatMap((i) => (isPair(i) ? [i.key, i.value] : [i])) : [];
    for (const part of parts) {
      const m = measure(part);
      if (m === null) return null;
      values += m.values;
      depth = Math.max(depth, m.depth + 1);
      if (values > YAML_LIMITS.values || depth > YAML_LIMITS.depth) return null;
    }
    open.delete(target);
    const size = { values, depth };
    known.set(target, size);
    return size;
  };
  return measure(doc.contents) !== null;
}

/** Parses one YAML file within YAML_LIMITS; a syntax error becomes `file:line:col: message`. */
function readYaml(file: string, code: KptrErrorCode): unknown {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) return fail(code, file, 'expected a regular file');
    if (st.size > YAML_LIMITS.bytes) return fail(code, file, `expected at most ${YAML_LIMITS.bytes} bytes, got ${st.size}`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof KptrError) throw error;
    return fail(code, file, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, error);
  }
  const doc = parseDocument(text);
  const error = doc.errors[0];
  if (error !== undefined) {
    const pos = error.linePos?.[0];
    const where = pos === undefined ? display(file) : `${display(file)}:${pos.line}:${pos.col}`;
    throw new KptrError(code, `${where}: ${(error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`, HINTS[code] ?? '', { cause: error });
  }
  if (!withinLimits(doc)) {
    return fail(code, file, `expected at most ${YAML_LIMITS.values} values nested at most ${YAML_LIMITS.depth} deep once aliases are expanded, got more`);
  }
  try {
    return doc.toJS({ maxAliasCount: YAML_LIMITS.aliases });
  } catch (cause) {
    return fail(code, file, `expected at most ${YAML_LIMITS.aliases} alias expansions: ${(cause as Error).message}`, cause);
  }
}

/** Runs a reader on one file's content and turns a ShapeError into the loader's one-line error. */
function shaped<T>(file: string, code: KptrErrorCode, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ShapeError) return fail(code, file, error.message, error);
    throw error;
  }
}

/** One spec file, validated against its schema in specs/schema/. */
export function readSpecFile<T>(file: string, schema: SchemaName): T {
  return shaped(file, 'KPTR_SPEC_INVALID', () => matchSchema<T>(schema, readYaml(file, 'KPTR_SPEC_INVALID')));
}

function yamlFiles(dir: string, code: KptrErrorCode): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) return fail(code, dir, 'expected a directory');
    names = readdirSync(dir);
  } catch (error) {
    if (error instanceof KptrError) throw error;
    return fail(code, dir, `cannot list the directory: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, error);
  }
  return names.filter((n) => n.endsWith('.yaml')).sort().map((n) => join(dir, n));
}

/** Reads every file of a folder whose content's `key` must equal its file name (`rules/ref.leak.yaml` has `id: ref.leak`). */
function readNamed<T extends Record<K, string>, K extends string>(dir: string, key: K, schema: SchemaName): { file: string; value: T }[] {
  return yamlFiles(dir, 'KPTR_SPEC_INVALID').map((file) => {
    const value = readSpecFile<T>(file, schema);
    const expected = basename(file, '.yaml');
    if (value[key] !== expected) fail('KPTR_SPEC_INVALID', file, new ShapeError(key, `'${expected}' (the file name)`, `'${value[key]}'`).message);
    return { file, value };
  });
}

/** A `${param}` in a message line that the rule does not declare, as a ShapeError; or null. */
function undeclaredParam(rule: Rule): ShapeError | null {
  for (const [i, m] of rule.messages.entries()) {
    for (const [j, line] of m.lines.entries()) {
      for (const [, name] of line.matchAll(/\$\{(\w+)\}/g)) {
        if (!rule.params.includes(name!)) return new ShapeError(`messages[${i}].lines[${j}]`, `only the declared params (${rule.params.join(', ') || 'none'})`, `\${${name}}`);
      }
    }
  }
  return null;
}

/**
 * Loads and cross-checks the semantics: every file matches its schema, message lines use only declared params,
 * every op kind has a contract, ops and divergences name existing rules, kernel rows ascend.
 * @throws KptrError KPTR_SPEC_INVALID naming file, YAML path and what was expected
 */
export function loadSpec(dir: string = SPEC_DIR): Spec {
  const rules = readNamed<Rule, 'id'>(join(dir, 'rules'), 'id', 'rule');
  for (const { file, value } of rules) {
    const problem = undeclaredParam(value);
    if (problem !== null) fail('KPTR_SPEC_INVALID', file, problem.message, problem);
  }
  const ruleIds = new Set(rules.map((r) => r.value.id));
  const ops = readNamed<OpContract, 'op'>(join(dir, 'ops'), 'op', 'op');
  for (const { file, value } of ops) {
    value.rules.forEach((id, i) => {
      if (!ruleIds.has(id)) fail('KPTR_SPEC_INVALID', file, new ShapeError(`rules[${i}]`, 'an existing rule id', `'${id}'`).message);
    });
  }
  const mapOps = readNamed<MapOpContract, 'mapOp'>(join(dir, 'ops', 'map'), 'mapOp', 'map_op');
  const missingMapOp = MAP_OP_KINDS.find((k) => !mapOps.some((o) => o.value.mapOp === k));
  if (missingMapOp !== undefined) fail('KPTR_SPEC_INVALID', join(dir, 'ops', 'map', `${missingMapOp}.yaml`), 'missing: every map operation of types/mapOp.ts needs a contract');
  const lifetimes = readNamed<LifetimeContract, 'step'>(join(dir, 'ops', 'lifetime'), 'step', 'lifetime');
  const missingStep = LIFETIME_STEP_KINDS.find((k) => !lifetimes.some((o) => o.value.step === k));
  if (missingStep !== undefined) fail('KPTR_SPEC_INVALID', join(dir, 'ops', 'lifetime', `${missingStep}.yaml`), 'missing: every schedule step kind of types/scenario.ts LifetimeStepKind needs a contract');
  const missingOp = OP_KINDS.find((k) => !ops.some((o) => o.value.op === k));
  if (missingOp !== undefined) fail('KPTR_SPEC_INVALID', join(dir, 'ops', `${missingOp}.yaml`), 'missing: every op kind of types/scenario.ts needs a contract');
  const kernelsFile = join(dir, 'kernels.yaml');
  const { kernels } = readSpecFile<{ kernels: readonly KernelFeatures[] }>(kernelsFile, 'kernels');
  kernels.forEach((row, i) => {
    const previous = kernels[i - 1];
    if (previous !== undefined && compareVersions(previous.version, row.version) >= 0) {
      fail('KPTR_SPEC_INVALID', kernelsFile, new ShapeError(`kernels[${i}].version`, `a version above ${previous.version} (rows ascend)`, `'${row.version}'`).message);
    }
  });
  const divergences = readNamed<Divergence, 'id'>(join(dir, 'divergences'), 'id', 'divergence');
  for (const { file, value } of divergences) {
    if (value.kind !== 'value' && !ruleIds.has(value.rule)) fail('KPTR_SPEC_INVALID', file, new ShapeError('rule', 'an existing rule id', `'${value.rule}'`).message);
  }
  return Object.freeze({
    rules: Object.freeze(rules.map((r) => r.value)),
    ops: Object.freeze(OP_KINDS.map((k) => ops.find((o) => o.value.op === k)!.value)),
    mapOps: Object.freeze(MAP_OP_KINDS.map((k) => mapOps.find((o) => o.value.mapOp === k)!.value)),
    lifetimes: Object.freeze(LIFETIME_STEP_KINDS.map((k): LifetimeContract => {
      const c = lifetimes.find((o) => o.value.step === k)!.value;
      return { ...c, memory: c.memory ?? null };
    })),
    kernels,
    divergences: Object.freeze(divergences.map(({ value: d }): Divergence => ({ ...d, taintsKernel: d.taintsKernel ?? false, emulatorFeature: d.emulatorFeature ?? null, validPairs: d.validPairs ?? null, ...(d.kind === 'value' ? { afterMapOps: d.afterMapOps ?? null } : {}) }))),
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
 * Loads the built-in cases (specs/selftests/*.yaml), checking each file against its schema, each scenario's
 * references, that its divergence and rule ids exist in `spec`, and that scenario ids are unique across all files.
 * @throws KptrError KPTR_SPEC_INVALID
 */
export function loadSelftests(dir: string = join(SPEC_DIR, 'selftests'), spec: Spec = loadSpec()): SelftestCase[] {
  const all: SelftestCase[] = [];
  const ids = new Map<string, string>();
  for (const file of yamlFiles(dir, 'KPTR_SPEC_INVALID')) {
    const { cases } = readSpecFile<{ cases: readonly SelftestCase[] }>(file, 'selftests');
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
 * Reads a scenario YAML (or JSON) file, e.g. a reproducer or a regression: its schema, then its references.
 * @throws KptrError KPTR_SCENARIO_INVALID naming file, YAML path and what was expected
 */
export function loadScenarioFile(path: string): Scenario {
  const s = shaped(path, 'KPTR_SCENARIO_INVALID', () => matchSchema<Scenario>('scenario', readYaml(path, 'KPTR_SCENARIO_INVALID')));
  const [first, ...more] = checkScenarioRefs(s);
  if (first !== undefined) fail('KPTR_SCENARIO_INVALID', path, `${first}${more.length > 0 ? ` (and ${more.length} more)` : ''}`);
  return s;
}

/**
 * The scenarios of a regression corpus directory (`--corpus DIR`), in file name order; scenario ids must be unique.
 * @throws KptrError KPTR_USAGE when `dir` is not a readable directory; KPTR_SCENARIO_INVALID for a bad entry
 */
export function loadCorpusDir(dir: string): Scenario[] {
  const owner = new Map<string, string>();
  return yamlFiles(dir, 'KPTR_USAGE').map((file) => {
    const s = loadScenarioFile(file);
    const other = owner.get(s.id);
    if (other !== undefined) fail('KPTR_SCENARIO_INVALID', file, `id: expected an id no other corpus entry has, got '${s.id}' (also in ${display(other)})`);
    owner.set(s.id, file);
    return s;
  });
}

/** YAML for a scenario that loadScenarioFile reads back to an equal value; every mapping of scalars is one line. */
export function scenarioToYaml(s: Scenario): string {
  // no anchors: a scenario file should read the same in any YAML reader, and aliases are limited on load
  const doc = new Document(s, { aliasDuplicateObjects: false });
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
