import { inSlotMap, type LocalStorageKind, type Op, type Program, type ProgType, type ScalarCType, type Scenario, type VarType } from '../../types/index.ts';
import { cInteger } from './cInteger.ts';
import { ProgramScope } from './programScope.ts';
import { slotElemName } from './scenarioIdentifiers.ts';
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

/** The program's names (ProgramScope) and a counter for fresh identifiers of `sum` loops. */
interface Scope extends ProgramScope {
  sums: number;
}

/**
 * One BPF program as C: `SEC("?tc")`, the annotation lines (test_loader tags in reproducers),
 * `int <name>(void *ctx)`, the declared variables (initialised to NULL so that no path reads an
 * uninitialised local, which is undefined behaviour clang may compile into anything), the ops,
 * and the implicit `return 0;` (left out after a final explicit return).
 */
export function emitProgram(scenario: Scenario, program: Program, annotations: readonly string[]): string[] {
  const scope: Scope = Object.assign(new ProgramScope(scenario, program), { sums: 0 });
  const body = emitOps(scope, program.ops);
  const needsKey = flattenOps(program.ops).some((op) => op.op === 'lookup' && scope.slot(op.slot).home.kind === 'map');
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
      scope.struct(op.struct);
      const call = op.percpu ? `bpf_percpu_obj_new(struct ${op.struct})` : `bpf_obj_new(struct ${op.struct})`;
      return [`${op.dst} = ${pointerCast(scope, op.dst, op.struct)}${call};`];
    }
    case 'if': {
      scope.variable(op.var);
      const cond = op.is === 'null' ? `!${op.var}` : op.var;
      return [`if (${cond}) {`, ...emitOps(scope, op.then), '}'];
    }
    case 'xchg': {
      if (op.src !== null) scope.variable(op.src);
      const call = `bpf_kptr_xchg(${slotAddress(scope, op.slot)}, ${op.src ?? 'NULL'})`;
      if (op.dst === null) return [`${call};`];
      scope.variable(op.dst);
      return [`${op.dst} = ${call};`];
    }
    case 'drop':
      scope.variable(op.var);
      return [op.percpu ? `bpf_percpu_obj_drop(${op.var});` : `bpf_obj_drop(${op.var});`];
    case 'load':
      return [`${op.dst} = ${pointerCast(scope, op.dst, scope.slot(op.slot).pointee)}READ_KPTR(${slotField(scope, op.slot)});`];
    case 'store': {
      const pointee = scope.slot(op.slot).pointee;
      const src = op.src === null ? 'NULL' : `${pointerCast(scope, op.src, pointee)}${op.src}`;
      return [`${slotField(scope, op.slot)} = ${src};`];
    }
    case 'per_cpu_ptr':
      scope.variable(op.src);
      scope.variable(op.dst);
      return [`${op.dst} = bpf_per_cpu_ptr(${op.src}, ${op.cpu});`];
    case 'this_cpu_ptr':
      scope.variable(op.src);
      scope.variable(op.dst);
      return [`${op.dst} = bpf_this_cpu_ptr(${op.src});`];
    case 'write': {
      const ctype = scope.fieldType(op.ptr, op.field);
      scope.writeValue(op.value);
      return [`${op.ptr}->${op.field} = ${cInteger(op.value, ctype) as string};`];
    }
    case 'read':
      scope.fieldType(op.ptr, op.field);
      return [`${scope.global(op.global).name} = ${op.ptr}->${op.field};`];
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
  const slot = scope.slot(slotName);
  const type = scope.variable(dst);
  scope.lookedUp(slotName, dst);
  // a global slot is its own container: the variable just points at it
  if (slot.home.kind === 'global') {
    const cast = type.kind === 'map_value' && type.slot === slotName ? '' : '(void *)';
    return [`${dst} = ${cast}&${slotName};`];
  }
  if (slot.home.kind !== 'map') return [`${dst} = ${LOCAL_STORAGE_GET[slot.home.kind](slotName)};`, `if (!${dst})`, '\treturn 0;'];
  const lookup = `${dst} = bpf_map_lookup_elem(&${slotName}, &${KEY});`;
  const check = [`if (!${dst})`, '\treturn 0;'];
  if (slot.home.mapType === 'array' || slot.home.mapType === 'percpu_array') return [lookup, ...check];
  // Hash maps start empty: insert key 0 (a zeroed value) only when it is missing. An update of a present key would
  // ask a full lru_hash for a free node first, and its LRU may evict the very element being updated (documented
  // LRU behaviour at capacity), resetting the slot between runs.
  return [
    lookup,
    `if (!${dst}) {`,
    `	struct ${slotElemName(slotName)} __kc_init = {};`,
    '',
    `	bpf_map_update_elem(&${slotName}, &${KEY}, &__kc_init, BPF_NOEXIST);`,
    `	${lookup}`,
    '}',
    ...check,
  ];
}

/** The storage of the current task, or of its cgroup (upstream's percpu_alloc_cgrp_local_storage.c), created if missing. */
const LOCAL_STORAGE_GET: Readonly<Record<LocalStorageKind, (map: string) => string>> = {
  task_storage: (map) => `bpf_task_storage_get(&${map}, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE)`,
  cgrp_storage: (map) => `bpf_cgrp_storage_get(&${map}, bpf_get_current_task_btf()->cgroups->dfl_cgrp, 0, BPF_LOCAL_STORAGE_GET_F_CREATE)`,
};

/** `bpf_for(i, 0, nr_cpus)` over the per-CPU copies of `src`, adding `field` of each to `global`. */
function emitSum(scope: Scope, src: string, field: string, global: string): string[] {
  scope.fieldType(src, field);
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
    `\t\t\t${scope.global(global).name} += ${e}->${field};`,
    '\t}',
    '}',
  ];
}

function declare(scope: Scope, name: string, type: VarType): string {
  switch (type.kind) {
    case 'percpu':
      return `struct ${scope.struct(type.struct)} __percpu_kptr *${name}`;
    case 'plain':
      return `struct ${scope.struct(type.struct)} *${name}`;
    case 'map_value': {
      const slot = scope.slot(type.slot);
      return inSlotMap(slot.home) ? `struct ${slotElemName(slot.name)} *${name}` : `${slotPointerType(slot)}*${name}`;
    }
  }
}

/** The C type a variable points to (`struct T`, `struct <slot>_elem`); fields are resolved in it. */
function elementType(scope: Scope, name: string): string {
  const pointee = scope.pointee(name);
  return pointee.kind === 'struct' ? `struct ${pointee.struct}` : `struct ${slotElemName(pointee.slot)}`;
}

/** `&e->pc` (the most recent lookup of a map slot) or `&<global slot>`: bpf_kptr_xchg's first argument. */
function slotAddress(scope: Scope, slotName: string): string {
  return `&${slotField(scope, slotName)}`;
}

/** The kptr field of a slot as an lvalue. */
function slotField(scope: Scope, slotName: string): string {
  const slot = scope.slot(slotName);
  return slot.home.kind === 'global' ? slotName : `${scope.container(slotName)}->pc`;
}

/**
 * `(void *)` when variable `name` and a pointer to `struct <struct>` are different C pointer types
 * (a scenario may break a typing rule on purpose; clang must compile it without a warning).
 * The percpu_kptr/kptr type tags are not part of C's type, so they need no cast.
 */
function pointerCast(scope: Scope, name: string, struct: string): string {
  const type = scope.variable(name);
  return type.kind !== 'map_value' && type.struct === struct ? '' : '(void *)';
}
