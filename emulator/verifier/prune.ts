/**
 * State pruning (is_state_visited's comparisons): which registers and stack slots are live at an instruction, and
 * whether an explored state covers the current one (states_equal with regsafe/stacksafe/refsafe and an id map).
 * Scalars compare by range inclusion (RANGE_WITHIN); there is no precision tracking, so the model prunes less than
 * the kernel, which changes `processed N insns` but not which error comes first.
 */
import { HELPER_ARGS, KFUNC_ARGS } from './calls.ts';
import { LD_IMM64, slotCode, slotDst, slotImm, slotOff, slotSrc } from '../../bpf/asm/insn.ts';
import {
  BPF_ALU, BPF_ALU64, BPF_CALL, BPF_CLASS as insnClass, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_MOV,
  BPF_OP as insnOp, BPF_PSEUDO_KFUNC_CALL, BPF_SRC as insnSrc, BPF_ST, BPF_STX, BPF_X, sizeBytes as insnSizeBytes,
} from '../../bpf/asm/opcode.ts';
import type { VerifierProgram } from './input.ts';
import { scalarWithin } from './scalar.ts';
import { type RegState, type StackSlot, type VerifierState, stackSlot } from './state.ts';

/**
 * The target of the goto or conditional jump at i (possibly outside the program), its opcode `code` decoded by the
 * caller (gotol takes the immediate)
 */
export const jumpTarget = (words: Int32Array, i: number, code: number): number =>
  i + 1 + (insnOp(code) === BPF_JA && insnClass(code) === BPF_JMP32 ? slotImm(words, i) : slotOff(words, i));

/**
 * Registers an instruction reads (returned) and writes (into def[i]), as bit masks, for the static liveness of
 * registers. No closures or result objects: this runs for every instruction of every program verified.
 */
function regUse(prog: VerifierProgram, i: number, code: number, def: Int32Array): number {
  const cls = insnClass(code);
  const op = insnOp(code);
  const dst = 1 << slotDst(prog.words, i);
  const src = 1 << slotSrc(prog.words, i);
  switch (cls) {
    case BPF_LD: def[i] = dst; return 0;
    case BPF_LDX: def[i] = dst; return src;
    case BPF_ST: return dst;
    case BPF_STX: return dst | src;
    case BPF_ALU:
    case BPF_ALU64:
      def[i] = dst;
      return (op === BPF_MOV ? 0 : dst) | (insnSrc(code) === BPF_X ? src : 0);
    default: {
      if (op === BPF_EXIT) return 1;
      if (op === BPF_CALL) {
        const kfunc = slotSrc(prog.words, i) === BPF_PSEUDO_KFUNC_CALL || prog.kfuncCalls[i] !== undefined;
        const n = kfunc ? (KFUNC_ARGS[prog.kfuncCalls[i] ?? ''] ?? 5) : (HELPER_ARGS[slotImm(prog.words, i)] ?? 5);
        def[i] = 0b111111;
        return ((1 << (n + 1)) - 1) & ~1;
      }
      if (op === BPF_JA) return 0;
      return dst | (insnSrc(code) === BPF_X ? src : 0);
    }
  }
}

/** Stack slot an instruction (its opcode `code`) fully overwrites through r10 (a kill for stack liveness), or -1. */
function stackDef(words: Int32Array, i: number, code: number): number {
  const cls = insnClass(code);
  const off = slotOff(words, i);
  if ((cls !== BPF_ST && cls !== BPF_STX) || slotDst(words, i) !== 10 || insnSizeBytes(code) !== 8 || off % 8 !== 0) return -1;
  return (-off - 1) >> 3;
}

/**
 * Adds the edge i -> x to the successor tables (none when x is not an instruction); whether it goes back. A function
 * of the module, not a closure per build: tsx names every closure it makes (a property definition each time).
 */
function addEdge(succ0: Int32Array, succ1: Int32Array, nPred: Int32Array, n: number, i: number, x: number): boolean {
  if (x < 0 || x >= n) return false;
  if (succ0[i] === 0) succ0[i] = x + 1; else succ1[i] = x + 1;
  nPred[x]!++;
  return x <= i;
}

/**
 * The tables of the Liveness being used, reused from program to program and grown when a program is longer (a
 * typed array, or a subarray, per table and program was a large share of the walk's allocation). The verifier checks
 * one program at a time, to the end, so only the latest Liveness is ever in use.
 */
const TABLES = 15;
let capacity = 0;
let shared: Int32Array[] = [];

/** the tables zeroed for m entries (the last, predecessor lists, for 2m) */
function tables(m: number): Int32Array[] {
  if (capacity < m) {
    capacity = Math.max(m, 2 * capacity, 256);
    shared = Array.from({ length: TABLES }, (_, k) => new Int32Array(k === TABLES - 1 ? 2 * capacity : capacity));
  }
  for (let k = 0; k < TABLES; k++) shared[k]!.fill(0, 0, k === TABLES - 1 ? 2 * m : m);
  return shared;
}

/**
 * Backward liveness over the CFG: live-in registers (static) and stack slots (reads as observed so far).
 * Slot sets are two 32-bit words. Reads only ever add to the slot sets, so a new read is propagated to the
 * predecessors of its instruction at once, up to where the slot is written or already live: the least fixpoint a
 * recomputation over the whole program would reach, at the cost of the instructions that change. Successors and
 * predecessors are flat arrays, so building this costs no object per instruction.
 * The tables are built when a state is first compared (about half the programs never compare one): the reads seen
 * before are kept and then propagated, which gives the same sets, as the fixpoint does not depend on their order.
 */
export class Liveness {
  private regsIn!: Int32Array;
  private killLo!: Int32Array;
  private killHi!: Int32Array;
  private useLo!: Int32Array;
  private useHi!: Int32Array;
  private slotsLo!: Int32Array;
  private slotsHi!: Int32Array;
  /** predecessors of instruction i: predList[predStart[i] .. predStart[i + 1]) */
  private predStart!: Int32Array;
  private predList!: Int32Array;
  private readonly work: number[] = [];
  /** until the tables are built: the stack reads seen, as (instruction, slot) pairs */
  private early: number[] | null = [];

  constructor(private readonly prog: VerifierProgram) {}

  private build(): void {
    const prog = this.prog;
    const words = prog.words;
    const n = prog.length;
    // a successor is stored + 1 (0: none), so that the zeroed tables start with none
    const m = n + 1;
    const [succ0, succ1, use, def, nPred, order, killLo, killHi, useLo, useHi, slotsLo, slotsHi, regsIn, predStart, predList] = tables(m) as [
      Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array,
    ];
    let backEdge = false;
    /** order: instruction indices in reverse order, second slots of ld_imm64 left out */
    let nOrder = 0;
    for (let i = n - 1; i >= 0; i--) {
      if (i > 0 && slotCode(words, i - 1) === LD_IMM64) continue;
      order[nOrder++] = i;
      // the instruction decoded once for its edges, kills and uses (this runs for every instruction built)
      const code = slotCode(words, i);
      const cls = insnClass(code);
      const op = insnOp(code);
      const jump = cls === BPF_JMP || cls === BPF_JMP32;
      // the control-flow graph's edges out of i: the fall-through first (none after an exit or a goto), then a jump's
      if (!jump || (op !== BPF_EXIT && op !== BPF_JA)) addEdge(succ0, succ1, nPred, n, i, cls === BPF_LD ? i + 2 : i + 1);
      if (jump && op !== BPF_EXIT && op !== BPF_CALL && addEdge(succ0, succ1, nPred, n, i, jumpTarget(words, i, code))) backEdge = true;
      const slot = stackDef(words, i, code);
      if (slot >= 0) { if (slot < 32) killLo[i] = (1 << slot) | 0; else killHi[i] = (1 << (slot - 32)) | 0; }
      use[i] = regUse(prog, i, code, def);
    }
    // predStart[i] counts up to where i's predecessors end once predList is filled
    for (let i = 0; i < n; i++) predStart[i + 1] = predStart[i]! + nPred[i]!;
    for (let k = 0; k < nOrder; k++) {
      const i = order[k]!;
      if (succ0[i] !== 0) predList[predStart[succ0[i]! - 1]! + --nPred[succ0[i]! - 1]!] = i;
      if (succ1[i] !== 0) predList[predStart[succ1[i]! - 1]! + --nPred[succ1[i]! - 1]!] = i;
    }
    // in reverse order every successor comes first: without a back edge one pass is the fixpoint
    for (let changed = true; changed; changed &&= backEdge) {
      changed = false;
      for (let k = 0; k < nOrder; k++) {
        const i = order[k]!;
        const a = succ0[i]!, b = succ1[i]!;
        const out = (a === 0 ? 0 : regsIn[a - 1]!) | (b === 0 ? 0 : regsIn[b - 1]!);
        const inR = use[i]! | (out & ~def[i]!) | (1 << 10);
        if (inR !== regsIn[i]) { regsIn[i] = inR; changed = true; }
      }
    }
    this.regsIn = regsIn;
    this.killLo = killLo;
    this.killHi = killHi;
    this.useLo = useLo;
    this.useHi = useHi;
    this.slotsLo = slotsLo;
    this.slotsHi = slotsHi;
    this.predStart = predStart;
    this.predList = predList;
    const early = this.early!;
    this.early = null;
    for (let k = 0; k < early.length; k += 2) this.noteStackRead(early[k]!, early[k + 1]!);
  }

  noteStackRead(insn: number, slot: number): void {
    if (this.early !== null) {
      this.early.push(insn, slot);
      return;
    }
    const hi = slot >= 32;
    const use = hi ? this.useHi : this.useLo;
    const bit = (1 << (hi ? slot - 32 : slot)) | 0;
    if ((use[insn]! & bit) !== 0) return;
    use[insn] = use[insn]! | bit;
    const live = hi ? this.slotsHi : this.slotsLo;
    if ((live[insn]! & bit) !== 0) return;
    const kill = hi ? this.killHi : this.killLo;
    const work = this.work;
    live[insn] = live[insn]! | bit;
    work.push(insn);
    while (work.length > 0) {
      const i = work.pop()!;
      for (let k = this.predStart[i]!; k < this.predStart[i + 1]!; k++) {
        const p = this.predList[k]!;
        if ((live[p]! & bit) !== 0 || (kill[p]! & bit) !== 0) continue;
        live[p] = live[p]! | bit;
        work.push(p);
      }
    }
  }

  /** what liveAt answers, rewritten by each call (its callers compare states with it before asking again) */
  private readonly live = { regs: 0, slotsLo: 0, slotsHi: 0 };

  liveAt(insn: number): LiveSet {
    if (this.early !== null) this.build();
    const live = this.live;
    live.regs = this.regsIn[insn]!;
    live.slotsLo = this.slotsLo[insn]!;
    live.slotsHi = this.slotsHi[insn]!;
    return live;
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
  // made on the first pair of ids: most comparisons meet none
  private fwd: Map<number, number> | null = null;
  private back: Map<number, number> | null = null;
  check(a: number, b: number): boolean {
    if (a === 0 && b === 0) return true;
    if (a === 0 || b === 0) return false;
    const fwd = (this.fwd ??= new Map());
    const back = (this.back ??= new Map());
    const f = fwd.get(a);
    const g = back.get(b);
    if (f === undefined && g === undefined) { fwd.set(a, b); back.set(b, a); return true; }
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
  // the slots either stack holds (beyond both, two INVALID slots are safe)
  for (let s = 0; s < Math.max(old.stack.length, cur.stack.length); s++) {
    const o = stackSlot(old, s);
    const c = stackSlot(cur, s);
    const iterSlot = o.iter !== null || c.iter !== null;
    if (mode === 'within' && !iterSlot && !slotLive(live, s)) continue;
    if (!slotsafe(o, c, ids, mode)) return false;
  }
  for (let i = 0; i < old.refs.length; i++) if (!ids.check(old.refs[i]!.id, cur.refs[i]!.id)) return false;
  return true;
}
