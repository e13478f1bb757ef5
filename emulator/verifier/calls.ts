/**
 * Helper and kfunc calls (check_helper_call, check_kfunc_call with check_kfunc_args and the special kfuncs):
 * argument checks in the kernel's order, reference acquire and release, RCU sections, open-coded numbers iterators.
 * Only what the suite's programs call is modelled; any other helper or kfunc is an 'unsupported' verdict.
 */
import { BPF_FUNC } from '../../bpf/asm/funcIds.ts';
import { type Env, readReg, reject, typeStr, unsupported } from './env.ts';
import { checkHelperMemRead, constantStackKey, kernelBtf, mapKptrFields, stackSlotIndex } from './mem.ts';
import { scalarIsConst, scalarValue } from './scalar.ts';
import {
  MEM_ALLOC, MEM_PERCPU, MEM_RCU, MEM_RDONLY, NON_OWN_REF, PTR_MAYBE_NULL, PTR_TRUSTED, PTR_UNTRUSTED, type RegState,
  SLOT_INVALID, type VerifierState, copyState, isNullConst, mapRegs, regConst, regNotInit, regPtr, regUnknown, regWith, setStackSlot, slotBytes, stackSlot, writableStack,
} from './state.ts';
import { regTypeStr } from './regTypeStr.ts';
import { isGplCompatible } from './input.ts';

/** The helpers in scope: id → name and argument count (include/uapi/linux/bpf.h). */
export const HELPER_ARGS: Readonly<Record<number, number>> = {
  [BPF_FUNC.map_lookup_elem]: 2,
  [BPF_FUNC.map_update_elem]: 4,
  [BPF_FUNC.map_delete_elem]: 2,
  [BPF_FUNC.get_smp_processor_id]: 0,
  [BPF_FUNC.per_cpu_ptr]: 2,
  [BPF_FUNC.this_cpu_ptr]: 1,
  [BPF_FUNC.kptr_xchg]: 2,
  [BPF_FUNC.get_current_task_btf]: 0,
  [BPF_FUNC.task_storage_get]: 4,
  [BPF_FUNC.cgrp_storage_get]: 4,
};

/** The kfuncs in scope and their argument counts. */
export const KFUNC_ARGS: Readonly<Record<string, number>> = {
  bpf_obj_new_impl: 2, bpf_percpu_obj_new_impl: 2, bpf_obj_drop_impl: 2, bpf_percpu_obj_drop_impl: 2,
  bpf_rcu_read_lock: 0, bpf_rcu_read_unlock: 0, bpf_iter_num_new: 3, bpf_iter_num_next: 1, bpf_iter_num_destroy: 1,
};

function acquireReference(env: Env, insn: number): number {
  const id = ++env.idGen;
  env.cur.refs = [...env.cur.refs, { id, insn }];
  return id;
}

/** mark_reg_invalid: a released pointer is unusable (a scalar when pointer leaks are allowed). */
function invalid(env: Env): RegState {
  return env.allowPtrLeaks ? regUnknown() : regNotInit();
}

/** release_reference_nomark; false when no such reference is held. */
function dropRefState(st: VerifierState, id: number): boolean {
  const i = st.refs.findIndex((r) => r.id === id);
  if (i < 0) return false;
  st.refs = st.refs.filter((_, j) => j !== i);
  return true;
}

const TRUSTED_MODIFIERS = MEM_ALLOC | PTR_TRUSTED | NON_OWN_REF;

/**
 * is_trusted_reg: an unreferenced pointer is trusted with one of BPF_REG_TRUSTED_MODIFIERS and no other flag
 * (bpf_type_has_unsafe_modifiers): MEM_RCU makes an element of bpf_per_cpu_ptr untrusted (host 6.18: a drop of one
 * is "R1 must be referenced or trusted").
 */
export function isTrustedReg(r: RegState): boolean {
  if (r.refObjId !== 0) return true;
  return (r.flags & TRUSTED_MODIFIERS) !== 0 && (r.flags & ~TRUSTED_MODIFIERS) === 0;
}

/** reg_not_null: a pointer the verifier knows is never NULL, so `== 0` is decided. */
export function regNotNull(r: RegState): boolean {
  if (r.flags & PTR_MAYBE_NULL) return false;
  switch (r.type) {
    case 'PTR_TO_MAP_VALUE': case 'CONST_PTR_TO_MAP': return true;
    case 'PTR_TO_BTF_ID': return isTrustedReg(r);
    case 'PTR_TO_MEM': return (r.flags & PTR_UNTRUSTED) === 0;
    default: return false;
  }
}

function clearCallerSaved(env: Env): void {
  for (let i = 0; i <= 5; i++) env.cur.regs[i] = regNotInit();
}

function expectType(env: Env, regno: number, r: RegState, ok: boolean, expected: readonly string[]): void {
  if (!ok) reject('reg_type', { regno, type: typeStr(r), expected: expected.join(', ') });
}

/** the expected types of the arguments below, made once (not an array per call) */
const MAP_PTR = ['map_ptr'];
const STACK_OR_VALUE = ['fp', 'pkt', 'pkt_meta', 'map_key', 'map_value', 'mem', 'ringbuf_mem', 'buf', 'trusted_ptr_'];
const PERCPU_TYPES = [MEM_PERCPU, MEM_PERCPU | MEM_RCU, MEM_PERCPU | PTR_TRUSTED];
const PERCPU_TYPES_OLD = [MEM_PERCPU];
const BTF_ID_ARG = ['ptr_', 'trusted_ptr_', 'rcu_ptr_'];

function mapArg(env: Env): RegState {
  const r = readReg(env, 1);
  expectType(env, 1, r, r.type === 'CONST_PTR_TO_MAP', MAP_PTR);
  return r;
}

function stackOrValueArg(env: Env, regno: number, size: number): void {
  const r = readReg(env, regno);
  expectType(env, regno, r, (r.type === 'PTR_TO_STACK' || r.type === 'PTR_TO_MAP_VALUE') && !(r.flags & PTR_MAYBE_NULL), STACK_OR_VALUE);
  checkHelperMemRead(env, regno, size);
}

/** ARG_PTR_TO_PERCPU_BTF_ID's accepted types. */
function percpuArg(env: Env): RegState {
  const r = readReg(env, 1);
  const types = env.profile.features.percpu_kptr ? PERCPU_TYPES : PERCPU_TYPES_OLD;
  if (!(r.type === 'PTR_TO_BTF_ID' && types.includes(r.flags))) expectType(env, 1, r, false, types.map((f) => regTypeStr('PTR_TO_BTF_ID', f)));
  if (!(r.flags & MEM_RCU)) unsupported('bpf_per_cpu_ptr/bpf_this_cpu_ptr on a per-CPU ksym or trusted pointer');
  return r;
}

/** process_kptr_func + the R2 checks of bpf_kptr_xchg, then the release and R0. */
function kptrXchg(env: Env, insn: number): void {
  const dst = readReg(env, 1);
  expectType(env, 1, dst, dst.type === 'PTR_TO_MAP_VALUE' && !(dst.flags & PTR_MAYBE_NULL), ['map_value']);
  const map = dst.map!;
  const fields = mapKptrFields(env, map);
  if (map.fields === null || fields.length === 0) reject('kptr_none', { regno: 1, map: map.name });
  if (!scalarIsConst(dst.s)) reject('kptr_var_off', { regno: 1 });
  const off = dst.off + Number(scalarValue(dst.s));
  const field = fields.find((f) => f.off === off);
  if (field === undefined) return reject('kptr_off', { off });
  if (field.kind === 'kptr_untrusted') reject('kptr_unref', { off });

  const src = readReg(env, 2);
  let refObjId = 0;
  if (!isNullConst(src)) {
    // check_reg_type: MAYBE_NULL folded; MEM_ALLOC and MEM_PERCPU masked for an allocated object
    let flags = src.flags & ~PTR_MAYBE_NULL;
    if (flags & MEM_ALLOC) flags &= ~(MEM_ALLOC | MEM_PERCPU);
    expectType(env, 2, src, src.type === 'PTR_TO_BTF_ID' && [0, PTR_TRUSTED, MEM_RCU].includes(flags), BTF_ID_ARG);
    // its switch on the unmasked type has no case for an element (MEM_ALLOC|MEM_RCU): the default is a verifier bug
    const element = (src.flags & MEM_ALLOC) !== 0 && (src.flags & MEM_RCU) !== 0 && (src.flags & NON_OWN_REF) === 0;
    if (element && env.profile.features.rcu_alloc_xchg_bug) reject('reg_type_match_bug');
    // nor for an unchecked per-CPU object (MEM_ALLOC|MEM_PERCPU|PTR_MAYBE_NULL), which the arg type allows
    const maybeNullPercpu = (src.flags & (MEM_ALLOC | MEM_PERCPU | PTR_MAYBE_NULL)) === (MEM_ALLOC | MEM_PERCPU | PTR_MAYBE_NULL);
    if (maybeNullPercpu && env.profile.features.maybe_null_percpu_xchg_bug) reject('reg_type_match_bug');
    // nor for an unchecked plain object (MEM_ALLOC|PTR_MAYBE_NULL)
    const maybeNullObj = (src.flags & (MEM_ALLOC | MEM_PERCPU | PTR_MAYBE_NULL)) === (MEM_ALLOC | PTR_MAYBE_NULL);
    if (maybeNullObj && env.profile.features.maybe_null_obj_xchg_bug) reject('reg_type_match_bug');
    // map_kptr_match_type
    const perm = PTR_MAYBE_NULL | MEM_ALLOC | (field.kind === 'percpu_kptr' ? MEM_PERCPU : 0);
    const plainIntoPercpu = env.profile.features.reject_plain_into_percpu && field.kind === 'percpu_kptr' && !(src.flags & MEM_PERCPU);
    if ((src.flags & ~perm) !== 0 || plainIntoPercpu) reject('kptr_match', { regno: 2, type: typeStr(src), name: '', target: field.pointee.name });
    if (src.off !== 0) reject('ptr_off_nonzero', { regno: 2 });
    if (src.btf!.id !== field.pointee.id) reject('kptr_match', { regno: 2, type: typeStr(src), name: src.btf!.name, target: field.pointee.name });
    if (src.refObjId === 0) reject('release_unreferenced', { regno: 2 });
    refObjId = src.refObjId;
  }
  if (refObjId !== 0 && dropRefState(env.cur, refObjId)) {
    const inRcu = env.cur.activeRcu > 0 || !env.prog.sleepable;
    mapRegs(env.cur, (r) => {
      if (r.refObjId !== refObjId) return r;
      if (inRcu && (r.flags & MEM_ALLOC) && (r.flags & MEM_PERCPU)) return regWith(r, { refObjId: 0, flags: (r.flags & ~MEM_ALLOC) | MEM_RCU });
      return invalid(env);
    });
  }
  clearCallerSaved(env);
  const flags = PTR_MAYBE_NULL | MEM_ALLOC | (field.kind === 'percpu_kptr' ? MEM_PERCPU : 0);
  ++env.idGen;
  const id = acquireReference(env, insn);
  env.cur.regs[0] = regPtr('PTR_TO_BTF_ID', { flags, btf: field.pointee, id, refObjId: id });
}

export function helperCall(env: Env, helperId: number, insn: number): void {
  switch (helperId) {
    case BPF_FUNC.map_lookup_elem: {
      const map = mapArg(env).map!;
      stackOrValueArg(env, 2, map.keySize);
      const key = constantStackKey(env, 2, map.keySize);
      clearCallerSaved(env);
      const elide = env.profile.features.elide_value_nullness && (map.kind === 'array' || map.kind === 'percpu_array')
        && key !== null && key < BigInt(map.maxEntries);
      // check_helper_call: a value that is never NULL but holds a spin lock still gets an id (for bpf_spin_lock)
      env.cur.regs[0] = elide
        ? regPtr('PTR_TO_MAP_VALUE', map.spinLock ? { map, id: ++env.idGen } : { map })
        : regPtr('PTR_TO_MAP_VALUE', { map, flags: PTR_MAYBE_NULL, id: ++env.idGen });
      return;
    }
    case BPF_FUNC.map_update_elem:
    case BPF_FUNC.map_delete_elem: {
      const map = mapArg(env).map!;
      stackOrValueArg(env, 2, map.keySize);
      if (helperId === BPF_FUNC.map_update_elem) {
        stackOrValueArg(env, 3, map.valueSize);
        readReg(env, 4);
      }
      clearCallerSaved(env);
      env.cur.regs[0] = regUnknown();
      return;
    }
    case BPF_FUNC.get_smp_processor_id:
      clearCallerSaved(env);
      env.cur.regs[0] = regUnknown();
      return;
    case BPF_FUNC.per_cpu_ptr:
    case BPF_FUNC.this_cpu_ptr: {
      const p = percpuArg(env);
      if (helperId === BPF_FUNC.per_cpu_ptr) readReg(env, 2);
      clearCallerSaved(env);
      // a per-CPU kptr under RCU gives the element typed never-NULL (the kernel's, measured: see
      // specs/divergences/per_cpu_ptr_result_not_maybe_null.yaml)
      env.cur.regs[0] = regPtr('PTR_TO_BTF_ID', { flags: MEM_ALLOC | MEM_RCU, btf: p.btf });
      return;
    }
    case BPF_FUNC.kptr_xchg:
      kptrXchg(env, insn);
      return;
    case BPF_FUNC.get_current_task_btf:
      // gpl_only (bpf_get_current_task_btf_proto): refused in a non-GPL program before anything else of the call
      if (!isGplCompatible(env.prog.license)) reject('helper_gpl_only', {});
      clearCallerSaved(env);
      env.cur.regs[0] = regPtr('PTR_TO_BTF_ID', { flags: PTR_TRUSTED, btf: kernelBtf('task_struct') });
      return;
    case BPF_FUNC.task_storage_get:
    case BPF_FUNC.cgrp_storage_get: {
      const [name, kind, owner] = helperId === BPF_FUNC.task_storage_get ? ['bpf_task_storage_get', 'task_storage', 'task_struct'] as const : ['bpf_cgrp_storage_get', 'cgrp_storage', 'cgroup'] as const;
      // get_func_proto: before 6.18 bpf_task_storage_get is a tracing helper, not bpf_base_func_proto's (tc lacks it)
      if (kind === 'task_storage' && env.prog.progKind === 'sched_cls' && !env.profile.features.task_storage_in_tc) reject('helper_prog_type', { func: name, id: helperId });
      const map = mapArg(env).map!;
      if (map.kind !== kind) unsupported(`${name} on a map that is not ${kind}`);
      // ARG_PTR_TO_BTF_ID_OR_NULL: the owner, trusted or RCU (task->cgroups->dfl_cgrp outside an RCU section is untrusted)
      const task = readReg(env, 2);
      expectType(env, 2, task, task.type === 'PTR_TO_BTF_ID' && task.btf?.name === owner && !(task.flags & (PTR_UNTRUSTED | PTR_MAYBE_NULL)), BTF_ID_ARG);
      const value = readReg(env, 3);
      if (!isNullConst(value)) unsupported(`${name} with an initial value`);
      readReg(env, 4);
      clearCallerSaved(env);
      env.cur.regs[0] = regPtr('PTR_TO_MAP_VALUE', { map, flags: PTR_MAYBE_NULL, id: ++env.idGen });
      return;
    }
    default:
      unsupported(`helper #${helperId}`);
  }
}

/** The iterator slot an iter kfunc's R1 points at (process_iter_arg). */
function iterSlot(env: Env, uninit: boolean): number {
  const r = readReg(env, 1);
  if (r.type !== 'PTR_TO_STACK' || !scalarIsConst(r.s)) return iterArgReject(uninit);
  const o = r.off + Number(BigInt.asIntN(64, scalarValue(r.s)));
  if (o % 8 !== 0 || o < -512 || o > -8) return iterArgReject(uninit);
  const spi = stackSlotIndex(o);
  const slot = stackSlot(env.cur, spi);
  env.noteStackRead(spi);
  if (uninit ? slot.iter !== null : slot.iter === null) iterArgReject(uninit);
  return spi;
}

const iterArgReject = (uninit: boolean): never => reject(uninit ? 'iter_not_uninit' : 'iter_not_init', { iter: 'num', argno: 0 });

function objNew(env: Env, name: string, insn: number): void {
  const percpu = name === 'bpf_percpu_obj_new_impl';
  const arg = readReg(env, 1);
  if (arg.type !== 'SCALAR_VALUE' || !scalarIsConst(arg.s)) reject('kfunc_arg_not_const', { regno: 1 });
  const id = Number(scalarValue(arg.s));
  const t = env.prog.localType(id);
  if (t === null || t.kind !== 'struct') return reject('obj_new_not_struct');
  if (percpu) {
    const limit = env.profile.features.percpu_obj_size_limit;
    if (limit > 0 && t.size > limit) reject('percpu_obj_new_size', { size: t.size, limit });
    if (!t.scalarsOnly) reject('percpu_obj_new_not_scalars');
    if (t.specialFields) reject('percpu_obj_new_special');
  }
  clearCallerSaved(env);
  ++env.idGen;
  const ref = acquireReference(env, insn);
  env.cur.regs[0] = regPtr('PTR_TO_BTF_ID', {
    flags: MEM_ALLOC | PTR_MAYBE_NULL | (percpu ? MEM_PERCPU : 0), btf: { id, name: t.name, size: t.size }, id: ref, refObjId: ref,
  });
}

function objDrop(env: Env, name: string): void {
  const percpu = name === 'bpf_percpu_obj_drop_impl';
  const r = readReg(env, 1);
  if (isNullConst(r) || (r.flags & PTR_MAYBE_NULL)) reject('kfunc_arg_null', { argno: 0, regno: 1 });
  if (!isTrustedReg(r)) reject('kfunc_arg_untrusted', { regno: 1, func: name });
  if (r.off !== 0) reject('ptr_off_nonzero', { regno: 1 });
  if (r.type === 'PTR_TO_BTF_ID' && r.flags === MEM_ALLOC) {
    if (percpu) reject('drop_expects_plain', { argno: 0, regno: 1 });
  } else if (r.type === 'PTR_TO_BTF_ID' && r.flags === (MEM_ALLOC | MEM_PERCPU)) {
    if (!percpu) reject('drop_expects_percpu', { argno: 0, regno: 1 });
  } else {
    reject('drop_not_alloc', { argno: 0 });
  }
  if (r.refObjId === 0) reject('drop_unreferenced');
  const id = r.refObjId;
  if (!dropRefState(env.cur, id)) reject('kfunc_release_unacquired', { func: name, id: 0 });
  mapRegs(env.cur, (x) => (x.refObjId === id ? invalid(env) : x));
  clearCallerSaved(env);
}

function rcuUnlock(env: Env, name: string): void {
  if (env.cur.activeRcu === 0) reject('rcu_unmatched_unlock', { func: name });
  env.cur.activeRcu--;
  if (env.cur.activeRcu > 0) return;
  if (env.profile.features.unlock_keeps_implicit_rcu && !env.prog.sleepable) return;
  mapRegs(env.cur, (r) => (r.flags & MEM_RCU ? regWith(r, { flags: (r.flags & ~(MEM_RCU | PTR_MAYBE_NULL)) | PTR_UNTRUSTED }) : r));
}

/**
 * process_iter_next_call: the current path continues with the iterator drained (R0 = NULL), the active one
 * (R0 = a non-NULL int *) is queued; scalars that changed since the last visit of this call are widened so the
 * loop converges (widen_imprecise_scalars, with every scalar treated as imprecise).
 */
function iterNext(env: Env, insn: number): void {
  const spi = iterSlot(env, false);
  const slot = stackSlot(env.cur, spi);
  const iter = slot.iter!;
  clearCallerSaved(env);
  const id = ++env.idGen;
  if (iter.state === 'ACTIVE') {
    const queued = copyState(env.cur);
    setStackSlot(queued, spi, { bytes: slot.bytes, spilled: slot.spilled, iter: { ...iter, depth: iter.depth + 1 } });
    queued.regs[0] = regPtr('PTR_TO_MEM', { flags: MEM_RDONLY, memSize: 4, id });
    const prev = env.previousCheckpointState(insn);
    if (prev !== null) widenScalars(prev, queued);
    env.push(queued, insn + 1);
  }
  setStackSlot(env.cur, spi, { bytes: slot.bytes, spilled: slot.spilled, iter: { ...iter, state: 'DRAINED' } });
  env.cur.regs[0] = regConst(0n);
}

function widenScalars(prev: VerifierState, st: VerifierState): void {
  const widen = (old: RegState | null | undefined, r: RegState): RegState => {
    if (r.type !== 'SCALAR_VALUE' || old === null || old === undefined) return r;
    const same = old.type === 'SCALAR_VALUE' && old.s.varOff.value === r.s.varOff.value && old.s.varOff.mask === r.s.varOff.mask
      && old.s.umin === r.s.umin && old.s.umax === r.s.umax && old.s.smin === r.s.smin && old.s.smax === r.s.smax;
    return same ? r : regUnknown();
  };
  for (let i = 0; i < st.regs.length; i++) st.regs[i] = widen(prev.regs[i], st.regs[i]!);
  for (let i = 0; i < st.stack.length; i++) {
    const s = st.stack[i]!;
    if (s.spilled !== null) writableStack(st)[i] = { bytes: s.bytes, spilled: widen(prev.stack[i]?.spilled, s.spilled), iter: s.iter };
  }
}

export function kfuncCall(env: Env, name: string, insn: number): void {
  switch (name) {
    case 'bpf_obj_new_impl':
    case 'bpf_percpu_obj_new_impl':
      objNew(env, name, insn);
      return;
    case 'bpf_obj_drop_impl':
    case 'bpf_percpu_obj_drop_impl':
      objDrop(env, name);
      return;
    case 'bpf_rcu_read_lock':
      if (env.cur.activeRcu > 0 && !env.profile.features.nested_rcu_lock) reject('rcu_nested_lock', { func: name });
      env.cur.activeRcu++;
      clearCallerSaved(env);
      return;
    case 'bpf_rcu_read_unlock':
      rcuUnlock(env, name);
      clearCallerSaved(env);
      return;
    case 'bpf_iter_num_new': {
      const spi = iterSlot(env, true);
      for (const regno of [2, 3]) {
        const r = readReg(env, regno);
        if (r.type !== 'SCALAR_VALUE') reject('reg_type', { regno, type: typeStr(r), expected: 'scalar' });
      }
      const ref = acquireReference(env, insn);
      setStackSlot(env.cur, spi, { bytes: slotBytes('ITER'), spilled: null, iter: { state: 'ACTIVE', depth: 0, refObjId: ref } });
      clearCallerSaved(env);
      env.cur.regs[0] = regUnknown();
      return;
    }
    case 'bpf_iter_num_next':
      iterNext(env, insn);
      return;
    case 'bpf_iter_num_destroy': {
      const spi = iterSlot(env, false);
      dropRefState(env.cur, stackSlot(env.cur, spi).iter!.refObjId);
      setStackSlot(env.cur, spi, SLOT_INVALID);
      clearCallerSaved(env);
      return;
    }
    default:
      unsupported(`kfunc ${name}`);
  }
}
