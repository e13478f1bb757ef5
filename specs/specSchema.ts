/**
 * Shape readers for the spec files (types/spec.ts): rules/, ops/, kernels.yaml, divergences/, selftests/.
 * Each throws a ShapeError located by YAML path; load.ts adds the file and the cross-file checks.
 */
import type {
  Divergence, DivergenceProbe, KernelFeatures, OpContract, ProgramExpect, Rule, RuleMessage, SelftestCase, VersionRange,
} from '../types/index.ts';
import { readScenario } from './scenarioSchema.ts';
import {
  ShapeError, child, describeValue, readBoolean, readEnum, readList, readMatching, readNullable, readObject, readString,
} from './shape.ts';
import { parseVersionRange } from './versionRange.ts';
import { FEATURE_NAMES, MESSAGE_PARAMS, OP_KINDS } from './vocabulary.ts';

const STAGES = ['verifier', 'libbpf', 'map_create'] as const;
const RULE_ID = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const ERRNO = /^E[A-Z0-9]+$/;

function readRange(v: unknown, path: string): VersionRange {
  const range = readString(v, path);
  try {
    parseVersionRange(range);
  } catch (error) {
    throw new ShapeError(path, 'a version range like ">=6.8 <7.0", "=6.18" or "*"', `${describeValue(range)} (${(error as Error).message})`);
  }
  return range;
}

function readStrings(v: unknown, path: string): readonly string[] {
  return readList(v, path, readString);
}

function readMessage(v: unknown, path: string): RuleMessage {
  const o = readObject(v, path, ['kernels', 'errno', 'lines']);
  const lines = readStrings(o.lines, child(path, 'lines'));
  if (lines.length === 0) throw new ShapeError(child(path, 'lines'), 'at least one line', 'an empty list');
  return Object.freeze({
    kernels: readRange(o.kernels, child(path, 'kernels')),
    errno: readMatching(o.errno, child(path, 'errno'), ERRNO, 'a symbolic errno like EACCES'),
    lines,
  });
}

export function readRule(v: unknown, path: string): Rule {
  const o = readObject(v, path, ['id', 'group', 'title', 'condition', 'stage', 'params', 'messages', 'upstream', 'groundTruth']);
  const params = readList(o.params, child(path, 'params'), (x, p) => readEnum(x, p, MESSAGE_PARAMS));
  const messages = readList(o.messages, child(path, 'messages'), readMessage);
  messages.forEach((m, i) => m.lines.forEach((line, j) => {
    for (const [, name] of line.matchAll(/\$\{(\w+)\}/g)) {
      if (!params.includes(name as (typeof MESSAGE_PARAMS)[number])) {
        throw new ShapeError(child(child(child(child(path, 'messages'), i), 'lines'), j), `only the declared params (${params.join(', ') || 'none'})`, `\${${name}}`);
      }
    }
  }));
  return Object.freeze({
    id: readMatching(o.id, child(path, 'id'), RULE_ID, 'a rule id like percpu_obj_drop.maybe_null'),
    group: readMatching(o.group, child(path, 'group'), /^[A-J]$/, 'a group letter A..J'),
    title: readString(o.title, child(path, 'title')),
    condition: readString(o.condition, child(path, 'condition')),
    stage: readEnum(o.stage, child(path, 'stage'), STAGES),
    params,
    messages,
    upstream: readNullable(o.upstream, child(path, 'upstream'), readString),
    groundTruth: readNullable(o.groundTruth, child(path, 'groundTruth'), (x, p) => readMatching(x, p, /^\d\d_\w+$/, 'a ground-truth case name like 16_xchg_obj_new_nonpercpu')),
  });
}

export function readOpContract(v: unknown, path: string): OpContract {
  const o = readObject(v, path, ['op', 'symbol', 'kind', 'consumes', 'produces', 'returnsNull', 'flags', 'rules']);
  return Object.freeze({
    op: readEnum(o.op, child(path, 'op'), OP_KINDS),
    symbol: readString(o.symbol, child(path, 'symbol')),
    kind: readEnum(o.kind, child(path, 'kind'), ['kfunc', 'helper', 'insn', 'macro'] as const),
    consumes: readString(o.consumes, child(path, 'consumes')),
    produces: readString(o.produces, child(path, 'produces')),
    returnsNull: readString(o.returnsNull, child(path, 'returnsNull')),
    flags: readStrings(o.flags, child(path, 'flags')),
    rules: readList(o.rules, child(path, 'rules'), (x, p) => readMatching(x, p, RULE_ID, 'a rule id')),
  });
}

function readKernelRow(v: unknown, path: string): KernelFeatures {
  const o = readObject(v, path, ['version', 'note', 'features']);
  const f = readObject(o.features, child(path, 'features'), FEATURE_NAMES);
  const features = Object.fromEntries(FEATURE_NAMES.map((name) => [name, readBoolean(f[name], child(child(path, 'features'), name))]));
  return Object.freeze({
    version: readMatching(o.version, child(path, 'version'), /^\d+\.\d+$/, 'major.minor like 6.18'),
    note: readString(o.note, child(path, 'note')),
    features: Object.freeze(features) as KernelFeatures['features'],
  });
}

/** specs/kernels.yaml: `{ kernels: [row, ...] }`. */
export function readKernels(v: unknown, path: string): readonly KernelFeatures[] {
  return readList(readObject(v, path, ['kernels']).kernels, child(path, 'kernels'), readKernelRow);
}

/** A divergence names a rule (what the verifier gets wrong) or, of kind `value`, an op (what a run observes). */
export function readDivergence(v: unknown, path: string): Divergence {
  const o = readObject(v, path, ['id', 'rule', 'op', 'kernels', 'kind', 'reason', 'hostUnsafe', 'splat', 'evidence', 'probe']);
  const kind = readEnum(o.kind, child(path, 'kind'), ['accepts_invalid', 'rejects_valid', 'message', 'value'] as const);
  const common = {
    id: readMatching(o.id, child(path, 'id'), /^[a-z][a-z0-9_]*$/, 'a divergence id in snake_case'),
    kernels: readRange(o.kernels, child(path, 'kernels')),
    reason: readString(o.reason, child(path, 'reason')),
    hostUnsafe: readBoolean(o.hostUnsafe, child(path, 'hostUnsafe')),
    splat: readBoolean(o.splat, child(path, 'splat')),
    evidence: readString(o.evidence, child(path, 'evidence')),
  };
  if (kind === 'value') {
    if (o.rule !== undefined) throw new ShapeError(child(path, 'rule'), 'no rule for a value divergence (it names an op)', describeValue(o.rule));
    if (o.probe !== undefined) throw new ShapeError(child(path, 'probe'), 'no probe for a value divergence (probes only verify)', describeValue(o.probe));
    return Object.freeze({ ...common, kind, op: readEnum(o.op, child(path, 'op'), OP_KINDS) });
  }
  if (o.op !== undefined) throw new ShapeError(child(path, 'op'), `no op for a ${kind} divergence (it names a rule)`, describeValue(o.op));
  return Object.freeze({
    ...common, kind, rule: readMatching(o.rule, child(path, 'rule'), RULE_ID, 'a rule id'), probe: readProbe(o.probe, child(path, 'probe')),
  });
}

/** `probe: {case, program, verdict, msgs}`: msgs for a rejection only, as in a selftest expectation. */
function readProbe(v: unknown, path: string): DivergenceProbe {
  const o = readObject(v, path, ['case', 'program', 'verdict', 'msgs']);
  const shows = readVerdict(o, path);
  return Object.freeze({ case: readString(o.case, child(path, 'case')), program: readString(o.program, child(path, 'program')), ...shows });
}

/** `verdict` and `msgs` of an expectation or a probe: messages for a rejection, none for an acceptance. */
function readVerdict(o: Readonly<Record<string, unknown>>, path: string): Pick<ProgramExpect, 'verdict' | 'msgs'> {
  const verdict = readEnum(o.verdict, child(path, 'verdict'), ['accepted', 'rejected'] as const);
  const msgs = readStrings(o.msgs, child(path, 'msgs'));
  if ((verdict === 'rejected') !== (msgs.length > 0)) {
    throw new ShapeError(child(path, 'msgs'), verdict === 'rejected' ? 'at least one message for a rejection' : 'no messages for an acceptance', `${msgs.length} messages`);
  }
  return { verdict, msgs };
}

function readProgramExpect(v: unknown, path: string): ProgramExpect {
  const o = readObject(v, path, ['program', 'kernels', 'verdict', 'msgs']);
  const expect = readVerdict(o, path);
  return Object.freeze({ program: readString(o.program, child(path, 'program')), kernels: readRange(o.kernels, child(path, 'kernels')), ...expect });
}

function readExpect(v: unknown, path: string): SelftestCase['expect'] {
  const o = readObject(v, path, ['programs', 'globals']);
  const g = o.globals;
  if (typeof g !== 'object' || g === null || Array.isArray(g)) throw new ShapeError(child(path, 'globals'), 'a mapping of global name to decimal string', describeValue(g));
  const globals = Object.fromEntries(Object.entries(g).map(([name, value]) => [name, readMatching(value, child(child(path, 'globals'), name), /^-?\d+$/, 'a decimal integer as a string')]));
  return Object.freeze({ programs: readList(o.programs, child(path, 'programs'), readProgramExpect), globals: Object.freeze(globals) });
}

export function readSelftestCase(v: unknown, path: string): SelftestCase {
  const o = readObject(v, path, ['scenario', 'source', 'expect', 'divergences']);
  return Object.freeze({
    scenario: readScenario(o.scenario, child(path, 'scenario')),
    source: readMatching(o.source, child(path, 'source'), /^(upstream|ground-truth|measured):\S+$/, 'upstream:<path>, ground-truth:<case> or measured:<name>'),
    expect: readExpect(o.expect, child(path, 'expect')),
    divergences: readStrings(o.divergences, child(path, 'divergences')),
  });
}

/** specs/selftests/*.yaml: `{ cases: [case, ...] }`. */
export function readSelftestFile(v: unknown, path: string): readonly SelftestCase[] {
  return readList(readObject(v, path, ['cases']).cases, child(path, 'cases'), readSelftestCase);
}
