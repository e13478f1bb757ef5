/**
 * State pruning (is_state_visited's comparisons): which registers and stack slots are live at an instruction, and
 * whether an explored state covers the current one (states_equal with regsafe/stacksafe/refsafe and an id map).
 * Scalars compare by range inclusion (RANGE_WITHIN); there is no precision tracking, so the model prunes less than
 * the kernel, which changes `processed N insns` but not which error comes first.
 */
import { HELPER_ARGS, KFUNC_ARGS } from './calls.ts';
import { type Insn, isLdImm64 } from '../../bpf/asm/insn.ts';
import {
  BPF_ALU, BPF_ALU64, BPF_CALL, BPF_CLASS as insnClass, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_MOV,
  BPF_OP as insnOp, BPF_PSEUDO_KFUNC_CALL, BPF_SRC as insnSrc, BPF_ST, BPF_STX, BPF_X, sizeBytes as insnSizeBytes,
} from '../../bpf/asm/opcode.ts';
import type { VerifierProgram } from './input.ts';
import { scalarWithin } from './scalar.ts';
import type { RegState, StackSlot, VerifierState } from './state.ts';

/** Successors of an instruction in the control-flow graph. */
export function successors(insns: readonly Insn[], i: number): number[] {
  const insn = insns[i]!;
  const cls = insnClass(insn.code);
  if (cls === BPF_LD) return [i + 2];
  if (cls !== BPF_JMP && cls !== BPF_JMP32) return [i + 1];
  const op = insnOp(insn.code);
  if (op === BPF_EXIT) return [];
  if (op === BPF_CALL) return [i + 1];
  if (op === BPF_JA) return [i + 1 + (cls === BPF_JMP32 ? insn.imm : insn.off)];
  return [i + 1, i + 1 + insn.off];
}

/** Registers an instruction reads and writes (bit masks), for the static liveness of registers. */
function regUse(prog: VerifierProgram, i: number): { use: number; def: number } {
  const insn = prog.insns[i]!;
  const cls = insnClass(insn.code);
  const op = insnOp(insn.code);
  const bit = (r: number): number => 1 << r;
  switch (cls) {
    case BPF_LD: return { use: 0, def: bit(insn.dst) };
    case BPF_LDX: return { use: bit(insn.src), def: bit(insn.dst) };
    case BPF_ST: return { use: bit(insn.dst), def: 0 };
    case BPF_STX: return { use: bit(insn.dst) | bit(insn.src), def: 0 };
    case BPF_ALU:
    case BPF_ALU64: {
      const src = insnSrc(insn.code) === BPF_X ? bit(insn.src) : 0;
      return { use: (op === BPF_MOV ? 0 : bit(insn.dst)) | src, def: bit(insn.dst) };
    }
    default: {
      if (op === BPF_EXIT) return { use: bit(0), def: 0 };
      if (op === BPF_CALL) {
        const kfunc = insn.src === BPF_PSEUDO_KFUNC_CALL || prog.kfuncCalls[i] !== undefined;
        const n = kfunc ? (KFUNC_ARGS[prog.kfuncCalls[i] ?? ''] ?? 5) : (HELPER_ARGS[insn.imm] ?? 5);
        return { use: ((1 << (n + 1)) - 1) & ~1, def: 0b111111 };
      }
      if (op === BPF_JA) return { use: 0, def: 0 };
      return { use: bit(insn.dst) | (insnSrc(insn.code) === BPF_X ? bit(insn.src) : 0), def: 0 };
    }
  }
}

/** Stack slots an instruction fully overwrites through r10 (a kill for stack liveness), as [low 32 slots, high 32]. */
function stackDef(insn: Insn): [number, number] {
  const cls = insnClass(insn.code);
  if ((cls !== BPF_ST && cls !== BPF_STX) || insn.dst !== 10 || insnSizeBytes(insn.code) !== 8 || insn.off % 8 !== 0) return [0, 0];
  const slot = (-insn.off - 1) >> 3;
  return slot < 32 ? [(1 << slot) | 0, 0] : [0, (1 << (slot - 32)) | 0];
}

/**
 * Backward liveness over the CFG: live-in registers (static, computed once) and stack slots (reads as observed so far,
 * recomputed when a new read is seen). Slot sets are two 32-bit words.
 */
export class Liveness {
  private readonly succ: number[][];
  private readonly order: number[];
  private readonly regsIn: Int32Array;
  private readonly killLo: Int32Array;
  private readonly killHi: Int32Array;
  private readonly useLo: Int32Array;
  private readonly useHi: Int32Array;
  private readonly slotsLo: Int32Array;
  private readonly slotsHi: Int32Array;
  private dirty = true;

  constructor(private readonly prog: VerifierProgram) {
    const n = prog.insns.length;
    const second = (i: number): boolean => i > 0 && isLdImm64(prog.insns[i - 1]!);
    this.order = [];
    for (let i = n - 1; i >= 0; i--) if (!second(i)) this.order.push(i);
    this.succ = prog.insns.map((_, i) => (second(i) ? [] : successors(prog.insns, i).filter((x) => x >= 0 && x < n)));
    this.killLo = new Int32Array(n);
    this.killHi = new Int32Array(n);
    this.useLo = new Int32Array(n);
    this.useHi = new Int32Array(n);
    this.slotsLo = new Int32Array(n);
    this.slotsHi = new Int32Array(n);
    prog.insns.forEach((insn, i) => { [this.killLo[i], this.killHi[i]] = stackDef(insn); });
    const use = prog.insns.map((_, i) => (second(i) ? { use: 0, def: 0 } : regUse(prog, i)));
    this.regsIn = new Int32Array(n);
    for (let changed = true; changed;) {
      changed = false;
      for (const i of this.order) {
        let out = 0;
        for (const x of this.succ[i]!) out |= this.regsIn[x]!;
        const u = use[i]!;
        const inR = u.use | (out & ~u.def) | (1 << 10);
        if (inR !== this.regsIn[i]) { this.regsIn[i] = inR; changed = true; }
      }
    }
  }

  noteStackRead(insn: number, slot: number): void {
    const [arr, bit] = slot < 32 ? [this.useLo, (1 << slot) | 0] : [this.useHi, (1 << (slot - 32)) | 0];
    if ((arr[insn]! & bit) === 0) {
      arr[insn] = arr[insn]! | bit;
      this.dirty = true;
    }
  }

  private compute(): void {
    const lo = this.slotsLo;
    const hi = this.slotsHi;
    lo.fill(0);
    hi.fill(0);
    for (let changed = true; changed;) {
      changed = false;
      for (const i of this.order) {
        let outLo = 0;
        let outHi = 0;
        for (const x of this.succ[i]!) { outLo |= lo[x]!; outHi |= hi[x]!; }
        const inLo = this.useLo[i]! | (outLo & ~this.killLo[i]!);
        const inHi = this.useHi[i]! | (outHi & ~this.killHi[i]!);
        if (inLo !== lo[i] || inHi !== hi[i]) { lo[i] = inLo; hi[i] = inHi; changed = true; }
      }
    }
    this.dirty = false;
  }

  liveAt(insn: number): LiveSet {
    if (this.dirty) this.compute();
    return { regs: this.regsIn[insn]!, slotsLo: this.slotsLo[insn]!, slotsHi: this.slotsHi[insn]! };
  }
}

export interface LiveSet {
  readonly regs: number;
  readonly slotsLo: number;
  readonly slotsHi: number;
}

const slotLive = (live: LiveSet, s: number): boolean => (s < 32 ? (live.slotsLo >>> s) & 1 : (live.slotsHi >>> (s - 32)) & 1) === 1;

/** check_ids: ids must map one-to-one between the explored and the current state. */
class IdMap {
  private readonly fwd = new Map<number, number>();
  private readonly back = new Map<number, number>();
  check(a: number, b: number): boolean {
    if (a === 0 && b === 0) return true;
    if (a === 0 || b === 0) return false;
    const f = this.fwd.get(a);
    const g = this.back.get(b);
    if (f === undefined && g === undefined) { this.fwd.set(a, b); this.back.set(b, a); return true; }
    return f === b && g === a;
  }
}

export type Compare = 'within' | 'exact';

function regsafe(old: RegState, cur: RegState, ids: IdMap, mode: Compare): boolean {
  if (old.type === 'NOT_INIT') return mode === 'within' || cur.type === 'NOT_INIT';
  if (old.type !== cur.type) return false;
  if (old.type === 'SCALAR_VALUE') {
    return mode === 'within' ? scalarWithin(old.s, cur.s) : scalarWithin(old.s, cur.s) && scalarWithin(cur.s, old.s);
  }
  return old.flags === cur.flags && old.off === cur.off && old.map === cur.map && old.btf?.id === cur.btf?.id
    && old.memSize === cur.memSize && scalarWithin(old.s, cur.s) && (mode === 'within' || scalarWithin(cur.s, old.s))
    && ids.check(old.id, cur.id) && ids.check(old.refObjId, cur.refObjId);
}

function slotsafe(old: StackSlot, cur: StackSlot, ids: IdMap, mode: Compare): boolean {
  for (let b = 0; b < 8; b++) {
    const o = old.bytes[b]!;
    const c = cur.bytes[b]!;
    if (o === 'INVALID' && mode === 'within') continue;
    if (o === 'MISC' && c === 'ZERO' && mode === 'within') continue;
    if (o !== c) return false;
  }
  if (old.spilled !== null && cur.spilled !== null && !regsafe(old.spilled, cur.spilled, ids, mode)) return false;
  if (old.iter !== null) {
    if (cur.iter === null || old.iter.state !== cur.iter.state || !ids.check(old.iter.refObjId, cur.iter.refObjId)) return false;
    // iter_active_depths_differ: another iteration of an iterator loop is progress, not an infinite loop
    if (mode === 'exact' && old.iter.state === 'ACTIVE' && old.iter.depth !== cur.iter.depth) return false;
  }
  return true;
}

/** states_equal restricted to what is live at the instruction. */
export function statesEqual(old: VerifierState, cur: VerifierState, live: LiveSet, mode: Compare): boolean {
  if (old.activeRcu !== cur.activeRcu || old.refs.length !== cur.refs.length) return false;
  const ids = new IdMap();
  for (let r = 0; r < old.regs.length; r++) {
    if (mode === 'within' && !(live.regs & (1 << r))) continue;
    if (!regsafe(old.regs[r]!, cur.regs[r]!, ids, mode)) return false;
  }
  for (let s = 0; s < old.stack.length; s++) {
    const iterSlot = old.stack[s]!.iter !== null || cur.stack[s]!.iter !== null;
    if (mode === 'within' && !iterSlot && !slotLive(live, s)) continue;
    if (!slotsafe(old.stack[s]!, cur.stack[s]!, ids, mode)) return false;
  }
  for (let i = 0; i < old.refs.length; i++) if (!ids.check(old.refs[i]!.id, cur.refs[i]!.id)) return false;
  return true;
}
