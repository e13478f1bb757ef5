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

/** Stack slots an instruction fully overwrites through r10 (a kill for stack liveness). */
function stackDef(insn: Insn): bigint {
  const cls = insnClass(insn.code);
  if ((cls !== BPF_ST && cls !== BPF_STX) || insn.dst !== 10 || insnSizeBytes(insn.code) !== 8 || insn.off % 8 !== 0) return 0n;
  return 1n << BigInt((-insn.off - 1) >> 3);
}

/** Backward liveness over the CFG: live-in registers (static) and stack slots (reads as observed so far). */
export class Liveness {
  private regsIn: number[] = [];
  private slotsIn: bigint[] = [];
  private dirty = true;
  readonly stackUse: bigint[];

  constructor(private readonly prog: VerifierProgram) {
    this.stackUse = prog.insns.map(() => 0n);
  }

  noteStackRead(insn: number, slot: number): void {
    const b = 1n << BigInt(slot);
    if ((this.stackUse[insn]! & b) === 0n) {
      this.stackUse[insn] = this.stackUse[insn]! | b;
      this.dirty = true;
    }
  }

  private compute(): void {
    const n = this.prog.insns.length;
    const regs = new Array<number>(n).fill(0);
    const slots = new Array<bigint>(n).fill(0n);
    const uses = this.prog.insns.map((_, i) => (this.isSecondSlot(i) ? { use: 0, def: 0 } : regUse(this.prog, i)));
    const kills = this.prog.insns.map((insn) => stackDef(insn));
    for (let changed = true; changed;) {
      changed = false;
      for (let i = n - 1; i >= 0; i--) {
        if (this.isSecondSlot(i)) continue;
        let outR = 0;
        let outS = 0n;
        for (const s of successors(this.prog.insns, i)) {
          if (s >= 0 && s < n) { outR |= regs[s]!; outS |= slots[s]!; }
        }
        const u = uses[i]!;
        const inR = u.use | (outR & ~u.def) | (1 << 10);
        const inS = this.stackUse[i]! | (outS & ~kills[i]!);
        if (inR !== regs[i] || inS !== slots[i]) { regs[i] = inR; slots[i] = inS; changed = true; }
      }
    }
    this.regsIn = regs;
    this.slotsIn = slots;
    this.dirty = false;
  }

  private isSecondSlot(i: number): boolean {
    return i > 0 && isLdImm64(this.prog.insns[i - 1]!);
  }

  liveAt(insn: number): { regs: number; slots: bigint } {
    if (this.dirty) this.compute();
    return { regs: this.regsIn[insn]!, slots: this.slotsIn[insn]! };
  }
}

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
export function statesEqual(old: VerifierState, cur: VerifierState, live: { regs: number; slots: bigint }, mode: Compare): boolean {
  if (old.activeRcu !== cur.activeRcu || old.refs.length !== cur.refs.length) return false;
  const ids = new IdMap();
  for (let r = 0; r < old.regs.length; r++) {
    if (mode === 'within' && !(live.regs & (1 << r))) continue;
    if (!regsafe(old.regs[r]!, cur.regs[r]!, ids, mode)) return false;
  }
  for (let s = 0; s < old.stack.length; s++) {
    const iterSlot = old.stack[s]!.iter !== null || cur.stack[s]!.iter !== null;
    if (mode === 'within' && !iterSlot && !(live.slots & (1n << BigInt(s)))) continue;
    if (!slotsafe(old.stack[s]!, cur.stack[s]!, ids, mode)) return false;
  }
  for (let i = 0; i < old.refs.length; i++) if (!ids.check(old.refs[i]!.id, cur.refs[i]!.id)) return false;
  return true;
}
