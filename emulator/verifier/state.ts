/**
 * The verifier's state in the kernel's vocabulary (include/linux/bpf_verifier.h): registers with a base type plus
 * flags, `id` and `ref_obj_id`; 8-byte stack slots with per-byte slot types and spilled registers; acquired
 * references; the RCU section depth. States are copied on push_stack, so registers and slots are immutable values.
 */
import type { BtfStruct, MapDesc } from './input.ts';
import { type Scalar, scalarConst, scalarUnknown } from './scalar.ts';

export type BaseType =
  | 'NOT_INIT' | 'SCALAR_VALUE' | 'PTR_TO_CTX' | 'CONST_PTR_TO_MAP' | 'PTR_TO_MAP_VALUE' | 'PTR_TO_STACK' | 'PTR_TO_BTF_ID' | 'PTR_TO_MEM';

/** enum bpf_type_flag, the bits this model uses. */
export const PTR_MAYBE_NULL = 1 << 0;
export const MEM_RDONLY = 1 << 1;
export const MEM_PERCPU = 1 << 2;
export const MEM_RCU = 1 << 3;
export const PTR_UNTRUSTED = 1 << 4;
export const PTR_TRUSTED = 1 << 5;
export const MEM_ALLOC = 1 << 6;
export const NON_OWN_REF = 1 << 7;

export interface RegState {
  readonly type: BaseType;
  readonly flags: number;
  /** fixed offset of a pointer */
  readonly off: number;
  /** a scalar's value, or a pointer's variable offset */
  readonly s: Scalar;
  readonly id: number;
  readonly refObjId: number;
  readonly map: MapDesc | null;
  readonly btf: BtfStruct | null;
  readonly memSize: number;
}

const BASE: RegState = {
  type: 'NOT_INIT', flags: 0, off: 0, s: scalarConst(0n), id: 0, refObjId: 0, map: null, btf: null, memSize: 0,
};

export const regNotInit = (): RegState => BASE;
/**
 * field by field in BASE's order, as regPtr and regWith: every register has one hidden class (an object spread gives
 * its copy another, and every site reading registers then meets several; a spread of BASE also cost more)
 */
export const regScalar = (s: Scalar): RegState => ({ type: 'SCALAR_VALUE', flags: 0, off: 0, s, id: 0, refObjId: 0, map: null, btf: null, memSize: 0 });
const UNKNOWN: RegState = regScalar(scalarUnknown());
export const regUnknown = (): RegState => UNKNOWN;
/** the constants -1 .. 256 as registers, made once: immediates and zeroed registers are most of a walk's constants */
const SMALL_CONSTS: readonly RegState[] = Array.from({ length: 258 }, (_, k) => regScalar(scalarConst(BigInt(k - 1))));
export const regConst = (v: bigint): RegState => (v >= -1n && v <= 256n ? SMALL_CONSTS[Number(v) + 1]! : regScalar(scalarConst(v)));
/** regConst of an instruction's immediate (a small one needs no BigInt; a larger one is remembered, as programs repeat them) */
export const regConstImm = (imm: number): RegState => (imm >= -1 && imm <= 256 ? SMALL_CONSTS[imm + 1]! : IMM_CONSTS.get(imm) ?? immConst(imm));
/** the larger immediates met, as registers (values: shared like SMALL_CONSTS), bounded */
const IMM_CONSTS = new Map<number, RegState>();

function immConst(imm: number): RegState {
  if (IMM_CONSTS.size >= 4096) IMM_CONSTS.clear();
  const r = regConst(BigInt(imm));
  IMM_CONSTS.set(imm, r);
  return r;
}
/** A pointer with a zero variable offset (mark_reg_known_zero + type). */
export const regPtr = (type: BaseType, f: Partial<RegState> = {}): RegState => ({
  // field by field, in BASE's order, rather than two spreads: every register gets the same shape, at a fraction of the cost
  type, flags: f.flags ?? 0, off: f.off ?? 0, s: f.s ?? BASE.s, id: f.id ?? 0, refObjId: f.refObjId ?? 0, map: f.map ?? null, btf: f.btf ?? null, memSize: f.memSize ?? 0,
});

/** `r` with some of the fields a pointer's copy changes (field by field: see regScalar) */
export const regWith = (r: RegState, f: Partial<Pick<RegState, 'flags' | 'off' | 's' | 'id' | 'refObjId'>>): RegState => ({
  type: r.type, flags: f.flags ?? r.flags, off: f.off ?? r.off, s: f.s ?? r.s, id: f.id ?? r.id, refObjId: f.refObjId ?? r.refObjId,
  map: r.map, btf: r.btf, memSize: r.memSize,
});

export const isNullConst = (r: RegState): boolean => r.type === 'SCALAR_VALUE' && r.s.varOff.mask === 0n && r.s.varOff.value === 0n;

export type SlotType = 'INVALID' | 'MISC' | 'ZERO' | 'SPILL' | 'ITER';

export interface IterState {
  readonly state: 'ACTIVE' | 'DRAINED';
  readonly depth: number;
  readonly refObjId: number;
}

/** One 8-byte stack slot (struct bpf_stack_state). */
export interface StackSlot {
  readonly bytes: readonly SlotType[];
  readonly spilled: RegState | null;
  readonly iter: IterState | null;
}

/** the byte types of a slot all of one type, shared (slot bytes are values: a change copies them) */
export const slotBytes = (t: SlotType): readonly SlotType[] => SLOT_BYTES[t];
const SLOT_BYTES: Readonly<Record<SlotType, readonly SlotType[]>> = {
  INVALID: Array(8).fill('INVALID'), MISC: Array(8).fill('MISC'), ZERO: Array(8).fill('ZERO'), SPILL: Array(8).fill('SPILL'), ITER: Array(8).fill('ITER'),
};

export const SLOT_INVALID: StackSlot = { bytes: slotBytes('INVALID'), spilled: null, iter: null };

export const MAX_BPF_STACK = 512;

export interface RefState {
  readonly id: number;
  /** the acquiring instruction (alloc_insn in messages) */
  readonly insn: number;
}

/**
 * A checkpoint: a copy of the state stored at a prune point (its parent the checkpoint before it on the path), with
 * the count of paths below it still being explored. One object, not a record holding a state: one is made at most
 * prune points visited.
 */
export interface Checkpoint extends VerifierState {
  readonly insn: number;
  branches: number;
  /** the next checkpoint stored at the same instruction (is_state_visited goes through them oldest first) */
  next: Checkpoint | null;
}

export interface VerifierState {
  regs: RegState[];
  /**
   * slot i covers fp-8*(i+1) .. fp-8*i-1; only the slots up to the deepest one written are held (the kernel's
   * allocated_stack), the rest are SLOT_INVALID: read them with stackSlot, write them with setStackSlot. Shared by
   * the copies of a state until one writes (copyState, checkpoint, writableStack): a path often goes from one prune
   * point to the next without a store.
   */
  stack: readonly StackSlot[];
  /** whether `stack` is this state's alone (no copy shares it), so that it may be written in place */
  stackOwned: boolean;
  /** replaced, never changed in place: copies of a state share it */
  refs: readonly RefState[];
  activeRcu: number;
  parent: Checkpoint | null;
}

/** slot i of the state's stack */
export const stackSlot = (s: VerifierState, i: number): StackSlot => s.stack[i] ?? SLOT_INVALID;

/** sets slot i, the stack grown to it with SLOT_INVALID (no holes: the array keeps its packed elements) */
export function setStackSlot(s: VerifierState, i: number, slot: StackSlot): void {
  const stack = writableStack(s);
  while (stack.length < i) stack.push(SLOT_INVALID);
  stack[i] = slot;
}

/** the state's stack to write into, copied first when a copy of the state may share it */
export function writableStack(s: VerifierState): StackSlot[] {
  if (!s.stackOwned) {
    s.stack = s.stack.slice();
    s.stackOwned = true;
  }
  return s.stack as StackSlot[];
}

/** a copy of the state; the two share the stack until either writes it */
export function copyState(s: VerifierState): VerifierState {
  s.stackOwned = false;
  return { regs: s.regs.slice(), stack: s.stack, stackOwned: false, refs: s.refs, activeRcu: s.activeRcu, parent: s.parent };
}

/** copyState's copy stored as the checkpoint at `insn` (its parent the state's) */
export function checkpoint(s: VerifierState, insn: number): Checkpoint {
  s.stackOwned = false;
  return {
    regs: s.regs.slice(), stack: s.stack, stackOwned: false, refs: s.refs, activeRcu: s.activeRcu, parent: s.parent, insn, branches: 1, next: null,
  };
}

/** Applies `f` to every register and spilled register of the state (bpf_for_each_reg_in_vstate). */
export function mapRegs(s: VerifierState, f: (r: RegState) => RegState): void {
  for (let i = 0; i < s.regs.length; i++) s.regs[i] = f(s.regs[i]!);
  for (let i = 0; i < s.stack.length; i++) {
    const slot = s.stack[i]!;
    if (slot.spilled === null) continue;
    const r = f(slot.spilled);
    if (r !== slot.spilled) writableStack(s)[i] = { bytes: slot.bytes, spilled: r, iter: slot.iter };
  }
}
