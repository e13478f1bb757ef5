import type { GlobalVar, Op, Program, ProgType, ScalarCType, Scenario, Slot, VarType } from '../../types/index.ts';
import { cInteger } from './cInteger.ts';
import { fieldCType } from './fieldCType.ts';
import { slotElemName } from './scenarioIdentifiers.ts';
import { scenarioInvalid } from './scenarioInvalid.ts';
import { slotPointerType } from './emitSlots.ts';

/** `?` keeps libbpf from loading the program automatically: the harness enables one at a time. */
export const PROGRAM_SECTIONS: Readonly<Record<ProgType, string>> = {
  tc: '?tc',
  syscall: '?syscall',
  // only bpf_fentry_test1 accepts sleepable programs; every fentry program targets it
  fentry: '?fentry/bpf_fentry_test1',
  'fentry.s': '?fentry.s/bpf_fentry_test1',
};

/** Local holding map key 0 (prefix `__kc_` keeps codegen's names apart from the scenario's). */
const KEY = '__kc_key';

/** Everything an op needs to know while the program is emitted. */
interface Scope {
  readonly scenario: Scenario;
  readonly program: Program;
  readonly vars: ReadonlyMap<string, VarType>;
  readonly slots: ReadonlyMap<string, Slot>;
  readonly globals: ReadonlyMap<string, GlobalVar>;
  /** slot → dst of its most recent lookup so far, in source order */
  readonly lastLookup: Map<string, string>;
  /** counter for fresh identifiers of `sum` loops */
  sums: number;
}

/**
 * One BPF program as C: `SEC("?tc")`, the annotation lines (test_loader tags in reproducers),
 * `int <name>(void *ctx)`, the declared variables (initialised to NULL so that no path reads an
 * uninitialised local, which is undefined behaviour clang may compile into anything), the ops,
 * and the implicit `return 0;` (left out after a final explicit return).
 */
export function emitProgram(scenario: Scenario, program: Program, annotations: readonly string[]): string[] {
  const scope: Scope = {
    scenario,
    program,
    vars: new Map(program.vars.map((v) => [v.name, v.type])),
    slots: new Map(scenario.slots.map((s) => [s.name, s])),
    globals: new Map(scenario.globals.map((g) => [g.name, g])),
    lastLookup: new Map(),
    sums: 0,
  };
  for (const v of program.vars) {
    // a local with a file-scope name would silently redirect `&<slot>` or `<global> =` to itself
    if (scope.slots.has(v.name) || scope.globals.has(v.name) || v.name === 'nr_cpus' || v.name.startsWith('__kc_')) {
      throw invalid(scope, `variable ${v.name} shadows a file-scope or codegen name`);
    }
  }
  const body = emitOps(scope, program.ops);
  const needsKey = flattenOps(program.ops).some((op) => op.op === 'lookup' && slotOf(scope, op.slot).home.kind === 'map');
  return [
    `SEC("${PROGRAM_SECTIONS[program.progType]}")`,
    ...annotations,
    `int ${program.name}(void *ctx)`,
    '{',
    ...program.vars.map((v) => `\t${declare(scope, v.name, v.type)} = NULL;`),
    ...(needsKey ? [`\tint ${KEY} = 0;`] : []),
    ...(program.vars.length > 0 || needsKey ? [''] : []),
    ...body,
    ...(program.ops.at(-1)?.op === 'return' ? [] : ['\treturn 0;']),
    '}',
  ];
}

function flattenOps(ops: readonly Op[]): Op[] {
  return ops.flatMap((op) => (op.op === 'if' ? [op, ...flattenOps(op.then)] : [op]));
}

/** The ops' lines, one tab deeper than the enclosing braces. */
function emitOps(scope: Scope, ops: readonly Op[]): string[] {
  return ops.flatMap((op) => emitOp(scope, op).map((line) => (line === '' ? line : `\t${line}`)));
}

/** The C lines of one op, indented relative to the op itself. */
function emitOp(scope: Scope, op: Op): string[] {
  switch (op.op) {
    case 'lookup':
      return emitLookup(scope, op.slot, op.dst);
    case 'new': {
      structOf(scope, op.struct);
      const call = op.percpu ? `bpf_percpu_obj_new(struct ${op.struct})` : `bpf_obj_new(struct ${op.struct})`;
      return [`${op.dst} = ${pointerCast(scope, op.dst, op.struct)}${call};`];
    }
    case 'if': {
      varOf(scope, op.var);
      const cond = op.is === 'null' ? `!${op.var}` : op.var;
      return [`if (${cond}) {`, ...emitOps(scope, op.then), '}'];
    }
    case 'xchg': {
      if (op.src !== null) varOf(scope, op.src);
      const call = `bpf_kptr_xchg(${slotAddress(scope, op.slot)}, ${op.src ?? 'NULL'})`;
      if (op.dst === null) return [`${call};`];
      varOf(scope, op.dst);
      return [`${op.dst} = ${call};`];
    }
    case 'drop':
      varOf(scope, op.var);
      return [op.percpu ? `bpf_percpu_obj_drop(${op.var});` : `bpf_obj_drop(${op.var});`];
    case 'load':
      return [`${op.dst} = ${pointerCast(scope, op.dst, slotOf(scope, op.slot).pointee)}READ_KPTR(${slotField(scope, op.slot)});`];
    case 'store': {
      const pointee = slotOf(scope, op.slot).pointee;
      const src = op.src === null ? 'NULL' : `${pointerCast(scope, op.src, pointee)}${op.src}`;
      return [`${slotField(scope, op.slot)} = ${src};`];
    }
    case 'per_cpu_ptr':
      varOf(scope, op.src);
      varOf(scope, op.dst);
      return [`${op.dst} = bpf_per_cpu_ptr(${op.src}, ${op.cpu});`];
    case 'this_cpu_ptr':
      varOf(scope, op.src);
      varOf(scope, op.dst);
      return [`${op.dst} = bpf_this_cpu_ptr(${op.src});`];
    case 'write': {
      const ctype = fieldType(scope, op.ptr, op.field);
      const value = cInteger(op.value, ctype);
      if (value === null) throw invalid(scope, `write of "${op.value}": not a decimal integer in [-2^63, 2^64)`);
      return [`${op.ptr}->${op.field} = ${value};`];
    }
    case 'read':
      fieldType(scope, op.ptr, op.field);
      return [`${globalOf(scope, op.global)} = ${op.ptr}->${op.field};`];
    case 'sum':
      return emitSum(scope, op.src, op.field, op.global);
    case 'rcu_lock':
      return ['bpf_rcu_read_lock();'];
    case 'rcu_unlock':
      return ['bpf_rcu_read_unlock();'];
    case 'return':
      return [`return ${op.value};`];
  }
}

function emitLookup(scope: Scope, slotName: string, dst: string): string[] {
  const slot = slotOf(scope, slotName);
  const type = varOf(scope, dst);
  scope.lastLookup.set(slotName, dst);
  // a global slot is its own container: the variable just points at it
  if (slot.home.kind === 'global') {
    const cast = type.kind === 'map_value' && type.slot === slotName ? '' : '(void *)';
    return [`${dst} = ${cast}&${slotName};`];
  }
  const lookup = [`${dst} = bpf_map_lookup_elem(&${slotName}, &${KEY});`, `if (!${dst})`, '\treturn 0;'];
  if (slot.home.mapType === 'array' || slot.home.mapType === 'percpu_array') return lookup;
  // hash maps start empty: insert key 0 (a zeroed value) unless it is already there
  return [
    '{',
    `\tstruct ${slotElemName(slotName)} __kc_init = {};`,
    '',
    `\tbpf_map_update_elem(&${slotName}, &${KEY}, &__kc_init, BPF_NOEXIST);`,
    '}',
    ...lookup,
  ];
}

/** `bpf_for(i, 0, nr_cpus)` over the per-CPU copies of `src`, adding `field` of each to `global`. */
function emitSum(scope: Scope, src: string, field: string, global: string): string[] {
  fieldType(scope, src, field);
  const n = scope.sums++;
  const i = `__kc_i${n}`;
  const e = `__kc_e${n}`;
  return [
    '{',
    `\t${elementType(scope, src)} *${e};`,
    `\tint ${i};`,
    '',
    `\tbpf_for(${i}, 0, nr_cpus) {`,
    `\t\t${e} = bpf_per_cpu_ptr(${src}, ${i});`,
    `\t\tif (${e})`,
    `\t\t\t${globalOf(scope, global)} += ${e}->${field};`,
    '\t}',
    '}',
  ];
}

function declare(scope: Scope, name: string, type: VarType): string {
  switch (type.kind) {
    case 'percpu':
      return `struct ${structOf(scope, type.struct)} __percpu_kptr *${name}`;
    case 'plain':
      return `struct ${structOf(scope, type.struct)} *${name}`;
    case 'map_value': {
      const slot = slotOf(scope, type.slot);
      return slot.home.kind === 'map' ? `struct ${slotElemName(slot.name)} *${name}` : `${slotPointerType(slot)}*${name}`;
    }
  }
}

/** The C type a variable points to (`struct T`, `struct <slot>_elem`); fields are resolved in it. */
function elementType(scope: Scope, name: string): string {
  const type = varOf(scope, name);
  if (type.kind !== 'map_value') return `struct ${type.struct}`;
  if (slotOf(scope, type.slot).home.kind === 'global') {
    throw invalid(scope, `${name} points to the global slot ${type.slot} itself, which has no fields`);
  }
  return `struct ${slotElemName(type.slot)}`;
}

/** Scalar type of `ptr->field`; throws when the path names no scalar member. */
function fieldType(scope: Scope, ptr: string, field: string): ScalarCType {
  const type = varOf(scope, ptr);
  if (type.kind === 'map_value') {
    elementType(scope, ptr);
    if (field === 'sum') return 'long';
    throw invalid(scope, `${ptr}->${field}: the map value only has the scalar field sum`);
  }
  const resolved = fieldCType(scope.scenario.structs, type.struct, field);
  if ('error' in resolved) throw invalid(scope, `${ptr}->${field}: ${resolved.error}`);
  return resolved.ctype;
}

/** `&e->pc` (the most recent lookup of a map slot) or `&<global slot>`: bpf_kptr_xchg's first argument. */
function slotAddress(scope: Scope, slotName: string): string {
  return `&${slotField(scope, slotName)}`;
}

/** The kptr field of a slot as an lvalue. */
function slotField(scope: Scope, slotName: string): string {
  const slot = slotOf(scope, slotName);
  if (slot.home.kind === 'global') return slotName;
  const container = scope.lastLookup.get(slotName);
  if (container === undefined) throw invalid(scope, `slot ${slotName} is used before any lookup of it`);
  return `${container}->pc`;
}

/**
 * `(void *)` when variable `name` and a pointer to `struct <struct>` are different C pointer types
 * (a scenario may break a typing rule on purpose; clang must compile it without a warning).
 * The percpu_kptr/kptr type tags are not part of C's type, so they need no cast.
 */
function pointerCast(scope: Scope, name: string, struct: string): string {
  const type = varOf(scope, name);
  return type.kind !== 'map_value' && type.struct === struct ? '' : '(void *)';
}

function varOf(scope: Scope, name: string): VarType {
  const type = scope.vars.get(name);
  if (!type) throw invalid(scope, `variable ${name} is not declared`);
  return type;
}

function slotOf(scope: Scope, name: string): Slot {
  const slot = scope.slots.get(name);
  if (!slot) throw invalid(scope, `slot ${name} is not defined`);
  return slot;
}

function globalOf(scope: Scope, name: string): string {
  if (!scope.globals.has(name)) throw invalid(scope, `global ${name} is not defined`);
  return name;
}

function structOf(scope: Scope, name: string): string {
  if (!scope.scenario.structs.some((t) => t.name === name)) throw invalid(scope, `struct ${name} is not defined`);
  return name;
}

function invalid(scope: Scope, message: string): Error {
  return scenarioInvalid(scope.scenario.id, `program ${scope.program.name}: ${message}`);
}
