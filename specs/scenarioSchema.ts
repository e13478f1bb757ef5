/**
 * Strict validation of a YAML/JSON value into a Scenario (types/scenario.ts): every field, C identifiers,
 * enums, op shapes (recursively through `if.then`). Semantic references are checked by checkScenarioRefs.
 */
import { KptrError } from '../errors/KptrError.ts';
import type {
  GlobalVar, Intent, KptrHome, Op, Program, Scenario, ScheduleStep, Slot, StructMember, StructType, VarDecl, VarType,
} from '../types/index.ts';
import {
  ShapeError, child, readBoolean, readEnum, readIdentifier, readInteger, readList, readMatching, readNullable,
  readObject, readString,
} from './shape.ts';
import { MAP_TYPES, OP_KINDS, PROG_TYPES, SCALAR_CTYPES } from './vocabulary.ts';

export { checkScenarioRefs } from './checkScenarioRefs.ts';

/**
 * Validates `raw` as a Scenario and returns it (frozen lists, no extra keys).
 * @param where - names the source in the error (`scenario.yaml`, `generator s42_7`)
 * @throws KptrError KPTR_SCENARIO_INVALID: `<where>: <yaml path>: expected <what>, got <what>`
 */
export function parseScenario(raw: unknown, where: string): Scenario {
  try {
    return readScenario(raw, '');
  } catch (error) {
    if (!(error instanceof ShapeError)) throw error;
    throw new KptrError('KPTR_SCENARIO_INVALID', `${where}: ${error.message}`, 'fix the scenario so it matches types/scenario.ts', { cause: error });
  }
}

/** The reader behind parseScenario, for callers that report a ShapeError their own way (the spec loader). */
export function readScenario(raw: unknown, path: string): Scenario {
  const o = readObject(raw, path, ['id', 'description', 'origin', 'intent', 'structs', 'slots', 'globals', 'programs', 'schedule']);
  return Object.freeze({
    id: readIdentifier(o.id, child(path, 'id')),
    description: readString(o.description, child(path, 'description')),
    origin: readNullable(o.origin, child(path, 'origin'), readOrigin),
    intent: readIntent(o.intent, child(path, 'intent')),
    structs: readList(o.structs, child(path, 'structs'), readStruct),
    slots: readList(o.slots, child(path, 'slots'), readSlot),
    globals: readList(o.globals, child(path, 'globals'), readGlobal),
    programs: readList(o.programs, child(path, 'programs'), readProgram),
    schedule: readList(o.schedule, child(path, 'schedule'), readStep),
  });
}

function readOrigin(v: unknown, path: string): NonNullable<Scenario['origin']> {
  const o = readObject(v, path, ['seed', 'path', 'index']);
  return Object.freeze({
    seed: readInteger(o.seed, child(path, 'seed'), Number.MIN_SAFE_INTEGER),
    path: readMatching(o.path, child(path, 'path'), /^\d*(:\d+)*$/, 'a fast-check path like "12:3:0"'),
    index: readInteger(o.index, child(path, 'index'), 0),
  });
}

function readIntent(v: unknown, path: string): Intent {
  const kind = readEnum(readObject(v, path, ['kind', 'rule']).kind, child(path, 'kind'), ['valid', 'break', 'mixed'] as const);
  if (kind !== 'break') {
    readObject(v, path, ['kind']);
    return Object.freeze({ kind });
  }
  const o = readObject(v, path, ['kind', 'rule']);
  return Object.freeze({ kind, rule: readString(o.rule, child(path, 'rule')) });
}

const MEMBER_KEYS = {
  scalar: ['kind', 'name', 'ctype', 'count'],
  struct: ['kind', 'name', 'struct', 'count'],
  pointer: ['kind', 'name'],
  spin_lock: ['kind', 'name'],
  kptr: ['kind', 'name', 'pointee'],
} as const;

function readCount(v: unknown, path: string): number | null {
  return readNullable(v, path, (x, p) => readInteger(x, p, 1));
}

function readMember(v: unknown, path: string): StructMember {
  const kind = readEnum(readObject(v, path, ['kind', 'name', 'ctype', 'count', 'struct', 'pointee']).kind, child(path, 'kind'), Object.keys(MEMBER_KEYS) as (keyof typeof MEMBER_KEYS)[]);
  const o = readObject(v, path, MEMBER_KEYS[kind]);
  const name = readIdentifier(o.name, child(path, 'name'));
  switch (kind) {
    case 'scalar':
      return Object.freeze({ kind, name, ctype: readEnum(o.ctype, child(path, 'ctype'), SCALAR_CTYPES), count: readCount(o.count, child(path, 'count')) });
    case 'struct':
      return Object.freeze({ kind, name, struct: readIdentifier(o.struct, child(path, 'struct')), count: readCount(o.count, child(path, 'count')) });
    case 'kptr':
      return Object.freeze({ kind, name, pointee: readIdentifier(o.pointee, child(path, 'pointee')) });
    case 'pointer':
    case 'spin_lock':
      return Object.freeze({ kind, name });
  }
}

function readStruct(v: unknown, path: string): StructType {
  const o = readObject(v, path, ['name', 'members']);
  return Object.freeze({
    name: readIdentifier(o.name, child(path, 'name')),
    members: readList(o.members, child(path, 'members'), readMember),
  });
}

function readHome(v: unknown, path: string): KptrHome {
  const kind = readEnum(readObject(v, path, ['kind', 'mapType', 'section']).kind, child(path, 'kind'), ['map', 'global'] as const);
  if (kind === 'map') {
    const o = readObject(v, path, ['kind', 'mapType']);
    return Object.freeze({ kind, mapType: readEnum(o.mapType, child(path, 'mapType'), MAP_TYPES) });
  }
  const o = readObject(v, path, ['kind', 'section']);
  return Object.freeze({ kind, section: readEnum(o.section, child(path, 'section'), ['bss', 'data'] as const) });
}

function readSlot(v: unknown, path: string): Slot {
  const o = readObject(v, path, ['name', 'home', 'pointee', 'tag']);
  return Object.freeze({
    name: readIdentifier(o.name, child(path, 'name')),
    home: readHome(o.home, child(path, 'home')),
    pointee: readIdentifier(o.pointee, child(path, 'pointee')),
    tag: readEnum(o.tag, child(path, 'tag'), ['percpu_kptr', 'kptr'] as const),
  });
}

function readGlobal(v: unknown, path: string): GlobalVar {
  const o = readObject(v, path, ['name', 'ctype']);
  return Object.freeze({ name: readIdentifier(o.name, child(path, 'name')), ctype: readEnum(o.ctype, child(path, 'ctype'), SCALAR_CTYPES) });
}

function readVarType(v: unknown, path: string): VarType {
  const kind = readEnum(readObject(v, path, ['kind', 'struct', 'slot']).kind, child(path, 'kind'), ['percpu', 'plain', 'map_value'] as const);
  if (kind === 'map_value') {
    const o = readObject(v, path, ['kind', 'slot']);
    return Object.freeze({ kind, slot: readIdentifier(o.slot, child(path, 'slot')) });
  }
  const o = readObject(v, path, ['kind', 'struct']);
  return Object.freeze({ kind, struct: readIdentifier(o.struct, child(path, 'struct')) });
}

function readVar(v: unknown, path: string): VarDecl {
  const o = readObject(v, path, ['name', 'type']);
  return Object.freeze({ name: readIdentifier(o.name, child(path, 'name')), type: readVarType(o.type, child(path, 'type')) });
}

/** `c`, `arr[2]`, `inner.x`, `inner[1].y` (resolved against the struct by checkScenarioRefs). */
const FIELD_PATH = /^[A-Za-z_]\w*(\[\d+\])?(\.[A-Za-z_]\w*(\[\d+\])?)*$/;
const FIELD_WHAT = 'a field path like c, arr[2] or inner.x';
const DECIMAL = /^-?\d+$/;

const OP_KEYS: Readonly<Record<Op['op'], readonly string[]>> = {
  lookup: ['op', 'slot', 'dst'],
  new: ['op', 'dst', 'struct', 'percpu'],
  if: ['op', 'var', 'is', 'then'],
  xchg: ['op', 'slot', 'src', 'dst'],
  drop: ['op', 'var', 'percpu'],
  load: ['op', 'slot', 'dst'],
  store: ['op', 'slot', 'src'],
  per_cpu_ptr: ['op', 'src', 'cpu', 'dst'],
  this_cpu_ptr: ['op', 'src', 'dst'],
  write: ['op', 'ptr', 'field', 'value'],
  read: ['op', 'ptr', 'field', 'global'],
  sum: ['op', 'src', 'field', 'global'],
  rcu_lock: ['op'],
  rcu_unlock: ['op'],
  return: ['op', 'value'],
};
const ALL_OP_KEYS = [...new Set(Object.values(OP_KEYS).flat())];

function readOp(v: unknown, path: string): Op {
  const op = readEnum(readObject(v, path, ALL_OP_KEYS).op, child(path, 'op'), OP_KINDS);
  const o = readObject(v, path, OP_KEYS[op]);
  const id = (key: string): string => readIdentifier(o[key], child(path, key));
  const idOrNull = (key: string): string | null => readNullable(o[key], child(path, key), readIdentifier);
  const field = (): string => readMatching(o.field, child(path, 'field'), FIELD_PATH, FIELD_WHAT);
  switch (op) {
    case 'lookup': return Object.freeze({ op, slot: id('slot'), dst: id('dst') });
    case 'new': return Object.freeze({ op, dst: id('dst'), struct: id('struct'), percpu: readBoolean(o.percpu, child(path, 'percpu')) });
    case 'if': return Object.freeze({
      op, var: id('var'), is: readEnum(o.is, child(path, 'is'), ['null', 'nonnull'] as const),
      then: readList(o.then, child(path, 'then'), readOp),
    });
    case 'xchg': return Object.freeze({ op, slot: id('slot'), src: idOrNull('src'), dst: idOrNull('dst') });
    case 'drop': return Object.freeze({ op, var: id('var'), percpu: readBoolean(o.percpu, child(path, 'percpu')) });
    case 'load': return Object.freeze({ op, slot: id('slot'), dst: id('dst') });
    case 'store': return Object.freeze({ op, slot: id('slot'), src: idOrNull('src') });
    case 'per_cpu_ptr': return Object.freeze({ op, src: id('src'), cpu: readInteger(o.cpu, child(path, 'cpu'), 0, 0xffffffff), dst: id('dst') });
    case 'this_cpu_ptr': return Object.freeze({ op, src: id('src'), dst: id('dst') });
    case 'write': return Object.freeze({ op, ptr: id('ptr'), field: field(), value: readMatching(o.value, child(path, 'value'), DECIMAL, 'a decimal integer as a string') });
    case 'read': return Object.freeze({ op, ptr: id('ptr'), field: field(), global: id('global') });
    case 'sum': return Object.freeze({ op, src: id('src'), field: field(), global: id('global') });
    case 'rcu_lock':
    case 'rcu_unlock': return Object.freeze({ op });
    case 'return': return Object.freeze({ op, value: readInteger(o.value, child(path, 'value'), -0x80000000, 0x7fffffff) });
  }
}

function readProgram(v: unknown, path: string): Program {
  const o = readObject(v, path, ['name', 'progType', 'license', 'vars', 'ops']);
  return Object.freeze({
    name: readIdentifier(o.name, child(path, 'name')),
    progType: readEnum(o.progType, child(path, 'progType'), PROG_TYPES),
    license: readEnum(o.license, child(path, 'license'), ['GPL', 'Dual BSD/GPL', 'Proprietary'] as const),
    vars: readList(o.vars, child(path, 'vars'), readVar),
    ops: readList(o.ops, child(path, 'ops'), readOp),
  });
}

function readStep(v: unknown, path: string): ScheduleStep {
  const o = readObject(v, path, ['program', 'cpu', 'repeat']);
  return Object.freeze({
    program: readIdentifier(o.program, child(path, 'program')),
    cpu: readInteger(o.cpu, child(path, 'cpu'), 0, 4095),
    repeat: readInteger(o.repeat, child(path, 'repeat'), 1),
  });
}
