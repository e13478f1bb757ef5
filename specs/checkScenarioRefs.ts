/**
 * Semantic reference problems of a (shape-valid) Scenario: names that do not resolve, duplicates, field paths
 * that are not scalar members, map-home slots used before a `lookup`. These make the generated C wrong or
 * uncompilable, so they are never a deliberate rule break.
 */
import type { ConcurrentStep, Op, Program, Scenario, StructType, VarDecl } from '../types/index.ts';
import { child } from './shape.ts';
import { SPIN_LOCK_MAP_TYPES } from '../cabi/slotMap.ts';
import { inSlotMap, isLocalStorage, isRunStep } from '../types/index.ts';

/** Grace-period steps one schedule may hold (the schema says so in words; JSON Schema draft 7 cannot count them). */
export const MAX_GRACE_PERIODS = 64;

/** Every reference problem of `s`, one located sentence each; an empty list means the scenario is consistent. */
export function checkScenarioRefs(s: Scenario): string[] {
  const problems: string[] = [];
  const structs = new Map(s.structs.map((t) => [t.name, t]));
  const slots = new Map(s.slots.map((slot) => [slot.name, slot]));
  const globals = new Set(s.globals.map((g) => g.name));
  const programs = new Set(s.programs.map((p) => p.name));

  checkDuplicates(s.structs.map((t, i) => [t.name, `structs[${i}].name`]), 'struct', problems);
  // slots (map or global variable names), result globals and programs share C's ordinary identifier namespace
  checkDuplicates([
    ...s.slots.map((x, i): [string, string] => [x.name, `slots[${i}].name`]),
    ...s.globals.map((x, i): [string, string] => [x.name, `globals[${i}].name`]),
    ...s.programs.map((x, i): [string, string] => [x.name, `programs[${i}].name`]),
  ], 'identifier', problems);

  s.structs.forEach((t, i) => checkStruct(t, `structs[${i}]`, structs, problems));
  for (const cycle of structCycles(s.structs)) problems.push(`structs: struct ${cycle} contains itself`);
  s.slots.forEach((slot, i) => {
    if (!structs.has(slot.pointee)) problems.push(`slots[${i}].pointee: no struct '${slot.pointee}'`);
    // codegen names the map value `struct <slot>_elem` (ARCHITECTURE.md "Maps")
    if (inSlotMap(slot.home) && structs.has(`${slot.name}_elem`)) problems.push(`slots[${i}].name: struct '${slot.name}_elem' clashes with the map value struct of slot '${slot.name}'`);
    // map_check_btf refuses a spin lock in the value of other map types (EOPNOTSUPP: the object would not load)
    if (slot.home.kind === 'map' && slot.home.spinLock === true && !SPIN_LOCK_MAP_TYPES.has(slot.home.mapType)) problems.push(`slots[${i}].home.spinLock: a ${slot.home.mapType} value cannot hold a spin lock (array and hash only)`);
  });
  s.programs.forEach((p, i) => checkProgram(p, `programs[${i}]`, { s, structs, slots, globals }, problems));
  s.schedule.forEach((step, i) => {
    if ('mapOp' in step) {
      // userspace map operations work on the map of a map-home slot (a local storage map is keyed by an owner's fd)
      if (s.slots.find((x) => x.name === step.slot)?.home.kind !== 'map') problems.push(`schedule[${i}].slot: no slot '${step.slot}' kept in a map`);
    } else if (isRunStep(step) && !programs.has(step.program)) problems.push(`schedule[${i}].program: no program '${step.program}'`);
    else if ('concurrent' in step) checkConcurrent(s, step, `schedule[${i}]`, problems);
  });
  // the maps' free ends the scenario's object lifetime; a global's object lives in the batch's shared .bss
  const freeAt = s.schedule.findIndex((step) => 'free_maps' in step);
  if (freeAt >= 0 && freeAt !== s.schedule.length - 1) problems.push(`schedule[${freeAt}]: free_maps must be the last step`);
  if (freeAt >= 0 && s.slots.some((x) => !inSlotMap(x.home))) problems.push(`schedule[${freeAt}]: free_maps needs every slot kept in a map (a global slot lives as long as the shared object)`);
  // the owner that goes away is the one of the scenario's local storage
  const ownerExitAt = s.schedule.findIndex((step) => 'owner_exit' in step);
  if (ownerExitAt >= 0 && !s.slots.some((x) => isLocalStorage(x.home))) problems.push(`schedule[${ownerExitAt}]: owner_exit needs a slot kept in local storage (task_storage or cgrp_storage)`);
  // each grace period is two synchronize_rcu() in the harness: bounded, so a file cannot stall a runner for long
  const gracePeriods = s.schedule.filter((step) => 'grace_period' in step).length;
  if (gracePeriods > MAX_GRACE_PERIODS) problems.push(`schedule: ${gracePeriods} grace_period steps, at most ${MAX_GRACE_PERIODS} allowed`);
  return problems;
}

/**
 * Two runs at once: on two different CPUs, of tc or syscall programs (a tracing program runs through the attach
 * point all share, so two cannot run at once on their own).
 */
function checkConcurrent(s: Scenario, step: ConcurrentStep, path: string, problems: string[]): void {
  step.concurrent.forEach((r, j) => {
    const p = s.programs.find((x) => x.name === r.program);
    if (p === undefined) problems.push(`${path}.concurrent[${j}].program: no program '${r.program}'`);
    else if (p.progType !== 'tc' && p.progType !== 'syscall') problems.push(`${path}.concurrent[${j}].program: '${r.program}' is ${p.progType}; concurrent runs are tc or syscall programs`);
  });
  if (step.concurrent[0].cpu === step.concurrent[1].cpu) problems.push(`${path}.concurrent: both runs on cpu ${step.concurrent[0].cpu}; concurrent runs need two CPUs`);
  // the harness runs a local-storage scenario's programs in its owner process, one at a time
  if (s.slots.some((x) => isLocalStorage(x.home))) problems.push(`${path}.concurrent: a scenario with a local-storage slot runs its programs in one owner process, one at a time; no concurrent steps`);
}

function checkDuplicates(named: readonly (readonly [string, string])[], what: string, problems: string[]): void {
  const seen = new Map<string, string>();
  for (const [name, path] of named) {
    const first = seen.get(name);
    if (first === undefined) seen.set(name, path);
    else problems.push(`${path}: duplicate ${what} '${name}' (first at ${first})`);
  }
}

function checkStruct(t: StructType, path: string, structs: ReadonlyMap<string, StructType>, problems: string[]): void {
  checkDuplicates(t.members.map((m, i) => [m.name, `${path}.members[${i}].name`]), 'member', problems);
  t.members.forEach((m, i) => {
    if (m.kind === 'struct' && !structs.has(m.struct)) problems.push(`${path}.members[${i}].struct: no struct '${m.struct}'`);
    if (m.kind === 'kptr' && !structs.has(m.pointee)) problems.push(`${path}.members[${i}].pointee: no struct '${m.pointee}'`);
  });
}

/** Structs that reach themselves through `struct` members (C cannot define them). */
function structCycles(list: readonly StructType[]): string[] {
  const byName = new Map(list.map((t) => [t.name, t]));
  const reaches = (from: string, target: string, seen: Set<string>): boolean => {
    for (const m of byName.get(from)?.members ?? []) {
      if (m.kind !== 'struct') continue;
      if (m.struct === target) return true;
      if (seen.has(m.struct)) continue;
      seen.add(m.struct);
      if (reaches(m.struct, target, seen)) return true;
    }
    return false;
  };
  return list.filter((t) => reaches(t.name, t.name, new Set())).map((t) => `'${t.name}'`);
}

interface Names {
  readonly s: Scenario;
  readonly structs: ReadonlyMap<string, StructType>;
  readonly slots: ReadonlyMap<string, Scenario['slots'][number]>;
  readonly globals: ReadonlySet<string>;
}

function checkProgram(p: Program, path: string, names: Names, problems: string[]): void {
  const vars = new Map(p.vars.map((v) => [v.name, v]));
  checkDuplicates(p.vars.map((v, i) => [v.name, `${path}.vars[${i}].name`]), 'variable', problems);
  p.vars.forEach((v, i) => {
    const at = `${path}.vars[${i}]`;
    // a local with a slot's or global's name would shadow it in the generated C
    if (names.slots.has(v.name) || names.globals.has(v.name)) problems.push(`${at}.name: variable '${v.name}' shadows a slot or global of the same name`);
    if (v.type.kind === 'map_value') {
      if (!names.slots.has(v.type.slot)) problems.push(`${at}.type.slot: no slot '${v.type.slot}'`);
    } else if (!names.structs.has(v.type.struct)) problems.push(`${at}.type.struct: no struct '${v.type.struct}'`);
  });
  checkOps(p.ops, `${path}.ops`, { ...names, vars }, new Set(), problems);
}

interface Scope extends Names {
  readonly vars: ReadonlyMap<string, VarDecl>;
}

/** `lookedUp` holds the map-home slots whose lookup dominates the op (a lookup inside `if` stays inside it). */
function checkOps(ops: readonly Op[], path: string, scope: Scope, lookedUp: Set<string>, problems: string[]): void {
  ops.forEach((op, i) => {
    const at = child(path, i);
    const needVar = (key: string, name: string | null): void => {
      if (name !== null && !scope.vars.has(name)) problems.push(`${at}.${key}: variable '${name}' is not declared in the program's vars`);
    };
    const needGlobal = (name: string): void => {
      if (!scope.globals.has(name)) problems.push(`${at}.global: no global '${name}'`);
    };
    const needSlot = (name: string, accessed: boolean): void => {
      const slot = scope.slots.get(name);
      if (slot === undefined) problems.push(`${at}.slot: no slot '${name}'`);
      else if (accessed && inSlotMap(slot.home) && !lookedUp.has(name)) problems.push(`${at}.slot: map slot '${name}' is used before a lookup of it in this program`);
    };
    switch (op.op) {
      case 'lookup': {
        needSlot(op.slot, false);
        needVar('dst', op.dst);
        const t = scope.vars.get(op.dst)?.type;
        if (t !== undefined && !(t.kind === 'map_value' && t.slot === op.slot)) problems.push(`${at}.dst: variable '${op.dst}' must have type map_value of slot '${op.slot}'`);
        lookedUp.add(op.slot);
        break;
      }
      case 'new': {
        needVar('dst', op.dst);
        if (!scope.structs.has(op.struct)) problems.push(`${at}.struct: no struct '${op.struct}'`);
        const t = scope.vars.get(op.dst)?.type;
        if (t !== undefined && (t.kind === 'map_value' || t.struct !== op.struct)) problems.push(`${at}.dst: variable '${op.dst}' must point to struct '${op.struct}'`);
        break;
      }
      case 'if':
        needVar('var', op.var);
        checkOps(op.then, `${at}.then`, scope, new Set(lookedUp), problems);
        break;
      case 'xchg': needSlot(op.slot, true); needVar('src', op.src); needVar('dst', op.dst); break;
      case 'drop': needVar('var', op.var); break;
      case 'load': needSlot(op.slot, true); needVar('dst', op.dst); break;
      case 'store': needSlot(op.slot, true); needVar('src', op.src); break;
      case 'per_cpu_ptr':
      case 'this_cpu_ptr': needVar('src', op.src); needVar('dst', op.dst); break;
      case 'write': needVar('ptr', op.ptr); checkField(op.ptr, op.field, at, scope, problems); break;
      case 'read': needVar('ptr', op.ptr); checkField(op.ptr, op.field, at, scope, problems); needGlobal(op.global); break;
      case 'sum': needVar('src', op.src); checkField(op.src, op.field, at, scope, problems); needGlobal(op.global); break;
      case 'rcu_lock':
      case 'rcu_unlock':
      case 'return': break;
    }
  });
}

/** The field must name a scalar (an array element with an in-range index) of the struct the variable points to. */
function checkField(varName: string, field: string, at: string, scope: Scope, problems: string[]): void {
  const type = scope.vars.get(varName)?.type;
  if (type === undefined) return;
  if (type.kind === 'map_value') {
    // the map value is `struct <slot>_elem { long sum; ... pc; }`: only `sum` is a scalar
    const home = scope.slots.get(type.slot)?.home;
    if (field !== 'sum' || home === undefined || !inSlotMap(home)) problems.push(`${at}.field: '${field}' is not a scalar member of the value of slot '${type.slot}' (only sum, of a map slot)`);
    return;
  }
  const problem = resolveScalar(type.struct, field, scope.structs);
  if (problem !== null) problems.push(`${at}.field: ${problem}`);
}

function resolveScalar(structName: string, field: string, structs: ReadonlyMap<string, StructType>): string | null {
  let current = structs.get(structName);
  const parts = field.split('.');
  for (const [i, part] of parts.entries()) {
    if (current === undefined) return null; // the missing struct is reported where it is named
    const m = /^(\w+)(?:\[(\d+)\])?$/.exec(part);
    const member = current.members.find((x) => x.name === m?.[1]);
    if (m === null || member === undefined) return `'${field}': struct '${current.name}' has no member '${m?.[1] ?? part}'`;
    const count = member.kind === 'scalar' || member.kind === 'struct' ? member.count : null;
    const index = m[2] === undefined ? null : Number(m[2]);
    if (count === null && index !== null) return `'${field}': member '${member.name}' of struct '${current.name}' is not an array`;
    if (count !== null && index === null) return `'${field}': member '${member.name}' of struct '${current.name}' is an array, name one element`;
    if (count !== null && index !== null && index >= count) return `'${field}': index ${index} is out of bounds for '${member.name}[${count}]'`;
    const last = i === parts.length - 1;
    if (last && member.kind !== 'scalar') return `'${field}': member '${member.name}' of struct '${current.name}' is a ${member.kind}, not a scalar`;
    if (!last && member.kind !== 'struct') return `'${field}': member '${member.name}' of struct '${current.name}' is not a struct`;
    current = member.kind === 'struct' ? structs.get(member.struct) : undefined;
  }
  return null;
}
