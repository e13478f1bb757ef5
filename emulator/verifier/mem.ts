/**
 * Memory access checks (check_mem_access and what it calls): map values with their kptr fields
 * (check_map_access, check_map_kptr_access), the stack (spill and fill, check_stack_read/write_fixed_off), BTF
 * objects (check_ptr_to_btf_access), PTR_TO_MEM; and the ranges helpers read (check_helper_mem_access).
 */
import { type Env, readReg, reject, typeStr, unsupported } from './env.ts';
import { BPF_MEM } from '../../bpf/asm/opcode.ts';
import type { BtfStruct, KptrField, MapDesc } from './input.ts';
import { KERNEL_BTF_IDS, KERNEL_STRUCTS, type KernelStructName } from '../vmlinux/kernelStructs.ts';
import { scalarIsConst, scalarURange, scalarValue } from './scalar.ts';
import {
  MAX_BPF_STACK, MEM_ALLOC, MEM_PERCPU, MEM_RCU, MEM_RDONLY, NON_OWN_REF, PTR_MAYBE_NULL, PTR_UNTRUSTED, type RegState,
  type SlotType, type StackSlot, regConst, regPtr, regScalar, regUnknown, setStackSlot, slotBytes, stackSlot,
} from './state.ts';

/** An access: the base register, the instruction offset, the size, and for a write the value (a register or BPF_ST's imm). */
export interface Access {
  readonly regno: number;
  readonly off: number;
  readonly size: number;
  readonly write: { readonly reg: RegState; readonly regno: number | null } | null;
  /** BPF_MEM or another mode (atomics) */
  readonly mode: number;
}

/** loads of 1, 2 and 4 bytes of unknown content, made once (registers are values) */
const NARROW_UNKNOWN = [1, 2, 4].map((size) => regScalar(scalarURange(0n, (1n << BigInt(size * 8)) - 1n)));

/** The value a load of `size` bytes (1, 2, 4 or 8) of unknown content gives. */
export function unknownOfSize(size: number): RegState {
  return size >= 8 ? regUnknown() : NARROW_UNKNOWN[size >> 1]!;
}

/**
 * The kptr fields a kernel sees in this map. Before local kptrs (6.1) btf_parse_fields fails on the percpu_kptr tag
 * and on a pointee that is not a vmlinux type, and map creation drops the whole record: the value is plain data.
 */
export function mapKptrFields(env: Env, map: MapDesc): readonly KptrField[] {
  return env.profile.features.percpu_kptr ? (map.fields ?? []) : [];
}

function btfFieldTypeName(f: KptrField): string {
  return f.kind === 'percpu_kptr' ? 'percpu_kptr' : f.kind === 'kptr' ? 'kptr' : 'kptr_untrusted';
}

/**
 * check_map_access: bounds, then the special fields the access overlaps (`indirect`: a helper reads the range).
 * Returns the constant offset into the value when there is one.
 */
export function checkMapAccess(env: Env, reg: RegState, off: number, size: number, indirect: boolean): number | null {
  const map = reg.map!;
  const lo = BigInt(reg.off + off) + reg.s.smin;
  const hi = BigInt(reg.off + off) + reg.s.umax;
  if (reg.s.smin < 0n || lo < 0n || hi + BigInt(size) > BigInt(map.valueSize)) {
    reject('map_value_access', { size: map.valueSize, off: reg.off + off + Number(reg.s.smin < 0n ? reg.s.smin : reg.s.umin), access: size });
  }
  const constOff = scalarIsConst(reg.s) ? reg.off + off + Number(scalarValue(reg.s)) : null;
  for (const f of mapKptrFields(env, map)) {
    const overlaps = constOff === null
      ? lo < BigInt(f.off + 8) && hi + BigInt(size) > BigInt(f.off)
      : constOff < f.off + 8 && constOff + size > f.off;
    if (!overlaps) continue;
    const field = btfFieldTypeName(f);
    if (indirect) reject('kptr_field_indirect', { field });
    if (constOff === null) reject('kptr_field_var_off', { field });
    if (constOff !== f.off) reject('kptr_field_misaligned', { field, expected: f.off, off: constOff! });
    if (size !== 8) reject('kptr_field_size', { field });
  }
  return constOff;
}

/** btf_ld_kptr_type: what a load of a kptr field gives. */
function kptrLoadFlags(env: Env, f: KptrField): number {
  const inRcu = env.cur.activeRcu > 0 || !env.prog.sleepable;
  // rcu_safe_kptr: per-CPU kptrs and referenced kptrs of program-allocated types
  if (f.kind !== 'kptr_untrusted' && inRcu) return PTR_MAYBE_NULL | MEM_RCU | (f.kind === 'percpu_kptr' ? MEM_PERCPU : MEM_ALLOC);
  return PTR_MAYBE_NULL | PTR_UNTRUSTED;
}

function mapValueAccess(env: Env, reg: RegState, a: Access): RegState | null {
  const map = reg.map!;
  if (a.write !== null && map.frozenValue !== null) reject('map_value_write_rdonly', { size: map.valueSize, off: reg.off + a.off, access: a.size });
  const constOff = checkMapAccess(env, reg, a.off, a.size, false);
  const field = constOff === null ? undefined : mapKptrFields(env, map).find((f) => f.off === constOff);
  if (field !== undefined) {
    // check_map_kptr_access
    if (a.mode !== BPF_MEM) reject('kptr_mode');
    if (a.write === null) {
      const flags = kptrLoadFlags(env, field);
      return regPtr('PTR_TO_BTF_ID', { flags, btf: field.pointee, id: ++env.idGen });
    }
    if (field.kind !== 'kptr_untrusted') reject('kptr_store');
    return unsupported('store to an untrusted kptr field');
  }
  if (a.write !== null) return null;
  if (map.frozenValue !== null && constOff !== null) {
    // bpf_map_direct_read: a frozen read-only map reads as constants
    let v = 0n;
    for (let i = a.size - 1; i >= 0; i--) v = (v << 8n) | BigInt(map.frozenValue[constOff + i] ?? 0);
    return regConst(v);
  }
  return unknownOfSize(a.size);
}

const slotIndex = (off: number): number => (-off - 1) >> 3;

function stackOffset(env: Env, reg: RegState, off: number, size: number, kind: 'read' | 'write'): number {
  if (!scalarIsConst(reg.s)) return unsupported('variable-offset stack access');
  // r10 and the pointers made from it by constant adds carry a zero variable part: no BigInt to convert
  const v = scalarValue(reg.s);
  const o = reg.off + off + (v === 0n ? 0 : Number(BigInt.asIntN(64, v)));
  if (o < -MAX_BPF_STACK || o + size > 0) reject('stack_bounds', { kind, regno: 10, off: o, size });
  return o;
}

/** a slot of eight zero bytes, shared (slots are values: a change makes a new one) */
const SLOT_ZERO: StackSlot = { bytes: slotBytes('ZERO'), spilled: null, iter: null };

function writeStackBytes(env: Env, o: number, size: number, value: RegState | null): void {
  const st = env.cur;
  const first = slotIndex(o + size - 1);
  const last = slotIndex(o);
  for (let spi = first; spi <= last; spi++) {
    const slot = stackSlot(st, spi);
    if (slot.iter !== null) reject('stack_iter_clobber', { off: o });
  }
  if (size === 8 && o % 8 === 0) {
    setStackSlot(st, slotIndex(o), value === null ? SLOT_ZERO : { bytes: slotBytes('SPILL'), spilled: value, iter: null });
    return;
  }
  const zero = value === null || (value.type === 'SCALAR_VALUE' && scalarIsConst(value.s) && scalarValue(value.s) === 0n);
  // each slot the write covers rewritten once, its bytes in [o, o + size) marked (slot spi holds fp-8*(spi+1) .. fp-8*spi-1)
  for (let spi = first; spi <= last; spi++) {
    const slot = stackSlot(st, spi);
    const bytes: SlotType[] = (slot.spilled !== null ? slotBytes('MISC') : slot.bytes).slice();
    const end = Math.min(o + size, -8 * spi);
    for (let b = Math.max(o, -8 * (spi + 1)); b < end; b++) bytes[(b + MAX_BPF_STACK) % 8] = zero ? 'ZERO' : 'MISC';
    setStackSlot(st, spi, { bytes, spilled: null, iter: null });
  }
}

function readStack(env: Env, o: number, size: number): RegState {
  const spi = slotIndex(o);
  const slot = stackSlot(env.cur, spi);
  env.noteStackRead(spi);
  if (slot.spilled !== null && slotIndex(o + size - 1) === spi) {
    if (size === 8 && o % 8 === 0) return slot.spilled;
    if (slot.spilled.type !== 'SCALAR_VALUE') return unsupported('partial fill of a spilled pointer');
    return unknownOfSize(size);
  }
  let allZero = true;
  for (let b = o; b < o + size; b++) {
    const s = slotIndex(b);
    if (s !== spi) env.noteStackRead(s);
    const t = stackSlot(env.cur, s).bytes[(b + MAX_BPF_STACK) % 8]!;
    if (t === 'INVALID' || t === 'ITER') reject('stack_read', { off: o, voff: b - o, size });
    if (t !== 'ZERO') allZero = false;
  }
  return allZero ? regConst(0n) : unknownOfSize(size);
}

/** A struct of the kernel (emulator/vmlinux) as a BTF_ID register names it (`trusted_ptr_task_struct`). */
export function kernelBtf(name: KernelStructName): BtfStruct {
  return { id: KERNEL_BTF_IDS[name], name, size: KERNEL_STRUCTS[name].size };
}

/** in_rcu_cs: inside bpf_rcu_read_lock, or anywhere in a non-sleepable program */
export function inRcuCs(env: Env): boolean {
  return env.cur.activeRcu > 0 || !env.prog.sleepable;
}

/**
 * check_ptr_to_btf_access on a kernel struct: only reads, and only of the pointer fields the model knows. A
 * BTF_TYPE_SAFE_RCU field read from a pointer that may not be NULL inside an RCU critical section is MEM_RCU (trusted
 * while the section lasts); outside one, PTR_UNTRUSTED; an untrusted base gives an untrusted result either way.
 */
function kernelStructAccess(env: Env, reg: RegState, a: Access): RegState | null {
  const struct = KERNEL_STRUCTS[reg.btf!.name as KernelStructName];
  if (a.write !== null) reject('btf_only_read');
  const off = reg.off + a.off;
  const field = scalarIsConst(reg.s) && a.size === 8 ? struct.fields.find((f) => f.off === off) : undefined;
  if (field === undefined || !field.safeRcu) return unsupported(`a load of ${reg.btf!.name} at offset ${off} (size ${a.size})`);
  const flags = inRcuCs(env) ? MEM_RCU | (reg.flags & PTR_UNTRUSTED) : PTR_UNTRUSTED;
  return regPtr('PTR_TO_BTF_ID', { flags, btf: kernelBtf(field.pointee) });
}

/** check_ptr_to_btf_access + btf_struct_access for the program-BTF objects this model knows. */
function btfAccess(env: Env, regno: number, reg: RegState, a: Access): RegState | null {
  if (reg.btf!.id < 0) return kernelStructAccess(env, reg, a);
  const name = reg.btf!.name;
  const off = reg.off + a.off;
  if (off < 0) reject('btf_negative', { regno, struct: name, off });
  if (!scalarIsConst(reg.s)) reject('btf_var_off', { regno, struct: name, off, var_off: 'var' });
  if (reg.flags & MEM_PERCPU) reject('btf_percpu', { regno, struct: name, off });
  if (a.write !== null) {
    if (!(reg.flags & MEM_ALLOC)) reject('btf_only_read');
    if (reg.flags & PTR_UNTRUSTED) reject(env.profile.features.untrusted_alloc_write_bug ? 'btf_alloc_unreferenced' : 'btf_only_read');
  }
  if ((reg.flags & MEM_ALLOC) && !(reg.flags & (NON_OWN_REF | MEM_RCU | PTR_UNTRUSTED)) && reg.refObjId === 0) reject('btf_alloc_unreferenced');
  // a kernel without the fix lets an untrusted allocated object (an element kept past bpf_rcu_read_unlock) reach that check on a load too
  if ((reg.flags & (MEM_ALLOC | PTR_UNTRUSTED)) === (MEM_ALLOC | PTR_UNTRUSTED) && env.profile.features.untrusted_alloc_read_bug) reject('btf_alloc_unreferenced');
  if (off + a.size > reg.btf!.size) reject('btf_beyond', { struct: name, off, size: a.size });
  return a.write === null ? unknownOfSize(a.size) : null;
}

/** check_mem_access for a load (returns the loaded value) or a store (returns null). */
export function checkMemAccess(env: Env, a: Access): RegState | null {
  const reg = readReg(env, a.regno);
  const maybeNull = (reg.flags & PTR_MAYBE_NULL) !== 0;
  if (maybeNull && reg.type !== 'SCALAR_VALUE') reject('mem_invalid', { regno: a.regno, type: typeStr(reg) });
  switch (reg.type) {
    case 'PTR_TO_MAP_VALUE':
      return mapValueAccess(env, reg, a);
    case 'PTR_TO_STACK': {
      const o = stackOffset(env, reg, a.off, a.size, a.write === null ? 'read' : 'write');
      if (a.write === null) return readStack(env, o, a.size);
      writeStackBytes(env, o, a.size, a.write.regno === null && a.size === 8 && scalarValue(a.write.reg.s) === 0n ? null : a.write.reg);
      return null;
    }
    case 'PTR_TO_BTF_ID':
      return btfAccess(env, a.regno, reg, a);
    case 'PTR_TO_MEM': {
      if (a.write !== null && (reg.flags & MEM_RDONLY)) reject('mem_rdonly_write', { regno: a.regno, type: typeStr(reg) });
      const off = reg.off + a.off;
      if (!scalarIsConst(reg.s) || off < 0 || off + a.size > reg.memSize) reject('mem_access', { size: reg.memSize, off, access: a.size });
      return a.write === null ? unknownOfSize(a.size) : null;
    }
    case 'PTR_TO_CTX':
      return unsupported('context access');
    default:
      return reject('mem_invalid', { regno: a.regno, type: typeStr(reg) });
  }
}

/**
 * check_helper_mem_access: a helper reads `size` bytes at register `regno` (a map key or value). Stack bytes must be
 * initialised; map values must not cover a kptr field.
 */
export function checkHelperMemRead(env: Env, regno: number, size: number): void {
  const reg = readReg(env, regno);
  switch (reg.type) {
    case 'PTR_TO_STACK': {
      const o = stackOffset(env, reg, 0, size, 'read');
      for (let b = o; b < o + size; b++) {
        const spi = slotIndex(b);
        env.noteStackRead(spi);
        const t = stackSlot(env.cur, spi).bytes[(b + MAX_BPF_STACK) % 8]!;
        if (t === 'INVALID' || t === 'ITER') reject('stack_indirect_read', { regno, off: o, voff: b - o, size });
      }
      return;
    }
    case 'PTR_TO_MAP_VALUE':
      checkMapAccess(env, reg, 0, size, true);
      return;
    default:
      unsupported(`helper memory argument of type ${typeStr(reg)}`);
  }
}

/** The constant a stack key holds (get_constant_map_key), or null. */
export function constantStackKey(env: Env, regno: number, size: number): bigint | null {
  const reg = env.cur.regs[regno]!;
  if (reg.type !== 'PTR_TO_STACK' || !scalarIsConst(reg.s)) return null;
  const o = reg.off + Number(BigInt.asIntN(64, scalarValue(reg.s)));
  const slot = stackSlot(env.cur, slotIndex(o));
  if (slot.spilled !== null) return slot.spilled.type === 'SCALAR_VALUE' && scalarIsConst(slot.spilled.s) && o % 8 === 0 ? scalarValue(slot.spilled.s) : null;
  for (let b = o; b < o + size; b++) if (stackSlot(env.cur, slotIndex(b)).bytes[(b + MAX_BPF_STACK) % 8] !== 'ZERO') return null;
  return 0n;
}

export const stackSlotIndex = slotIndex;
