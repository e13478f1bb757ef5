/**
 * The verifier model's entry point (bpf_check for one program): the checks before the walk, then do_check's
 * depth-first walk over paths — fall-through before the jump target, pushed states popped last-in first-out,
 * an iterator's drained path first — stopping at the first error, reported in the profile's words.
 */
import { helperCall, kfuncCall, regNotNull } from './calls.ts';
import { type Env, VerifierReject, VerifierUnsupported, readReg, reject, setReg, siteLines, typeStr, unsupported } from './env.ts';
import { LD_IMM64, imm64, slotCode, slotDst, slotImm, slotOff, slotSrc } from '../../bpf/asm/insn.ts';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_CALL, BPF_CLASS as insnClass, BPF_DIV, BPF_EXIT, BPF_JA, BPF_JEQ,
  BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_K,
  BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM, BPF_MOD, BPF_MODE as insnMode, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OP as insnOp, BPF_OR,
  BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_RSH, BPF_SRC as insnSrc, BPF_ST, BPF_STX, BPF_SUB, BPF_XOR,
  sizeBytes as insnSizeBytes,
} from '../../bpf/asm/opcode.ts';
import { isGplCompatible, type VerifierProgram } from './input.ts';
import { type Access, checkMemAccess } from './mem.ts';
import type { Profile } from './profile.ts';
import { Liveness, jumpTarget, statesEqual } from './prune.ts';
import {
  type AluOp, type JmpOp, negateJmp, scalarAlu, scalarBranchTaken, scalarIsConst, scalarRefine, scalarValue,
} from './scalar.ts';
import {
  type Checkpoint, MEM_ALLOC, checkpoint, PTR_MAYBE_NULL, PTR_UNTRUSTED, type RegState, type VerifierState, copyState,
  isNullConst, regConst, regConstImm, regNotInit, regPtr, regScalar, regUnknown, regWith, writableStack,
} from './state.ts';

export type VerifyResult =
  | {
      readonly verdict: 'accepted';
      readonly log: string;
      readonly insnProcessed: number;
      /** loads through untrusted pointers, which the kernel rewrites to BPF_PROBE_MEM (insn indices, ascending) */
      readonly probeMem: readonly number[];
    }
  | {
      readonly verdict: 'rejected';
      readonly stage: 'verifier' | 'libbpf';
      readonly errno: number;
      readonly errnoName: string;
      readonly site: string;
      /** the kernel function the message comes from */
      readonly fn: string;
      readonly log: string;
      readonly insnProcessed: number;
    }
  | { readonly verdict: 'unsupported'; readonly reason: string; readonly insn: number };

const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;
const BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192;

/** a table by BPF_OP(code) >> 4, a packed array (an object keyed by the sparse op values is a dictionary) */
function byOp<T>(ops: Readonly<Record<number, T>>): readonly (T | undefined)[] {
  const table = new Array<T | undefined>(16).fill(undefined);
  for (const [op, v] of Object.entries(ops)) table[Number(op) >> 4] = v;
  return table;
}

const ALU_OPS = byOp<AluOp>({
  [BPF_ADD]: 'add', [BPF_SUB]: 'sub', [BPF_MUL]: 'mul', [BPF_DIV]: 'div', [BPF_OR]: 'or', [BPF_AND]: 'and', [BPF_LSH]: 'lsh',
  [BPF_RSH]: 'rsh', [BPF_NEG]: 'neg', [BPF_MOD]: 'mod', [BPF_XOR]: 'xor', [BPF_MOV]: 'mov', [BPF_ARSH]: 'arsh',
});
const JMP_OPS = byOp<JmpOp>({
  [BPF_JEQ]: 'jeq', [BPF_JGT]: 'jgt', [BPF_JGE]: 'jge', [BPF_JSET]: 'jset', [BPF_JNE]: 'jne', [BPF_JSGT]: 'jsgt',
  [BPF_JSGE]: 'jsge', [BPF_JLT]: 'jlt', [BPF_JLE]: 'jle', [BPF_JSLT]: 'jslt', [BPF_JSLE]: 'jsle',
});

const PRUNE_POINT = 1;
const ITER_NEXT = 2;
/**
 * The prune point table of the Walk being used and checksBeforeWalk's path counts, reused from program to program (a
 * typed array per program was a visible share of the walk's time); programs are verified one at a time, to the end.
 */
let prunePointBuffer: Uint8Array = new Uint8Array(1024);
let pathCountBuffer: Uint8Array = new Uint8Array(1024);

/** `buf`, or a larger one, zeroed for n entries */
function zeroed(buf: Uint8Array, n: number): Uint8Array {
  return buf.length < n ? new Uint8Array(Math.max(n, 2 * buf.length)) : buf.fill(0, 0, n);
}

/**
 * push_stack's queue and the checkpoint table of the Walk being used, reused from program to program as the prune
 * point table (arrays per program, grown as the walk went, and a queue array reallocated each time it emptied and
 * filled again, were a share of the walk's allocation). The queue's states and resume points side by side (no object
 * per pushed branch); it never holds more than the jump sequence limit. A walk leaves both empty (Walk.release): a
 * state left in them would keep its checkpoints alive into later walks.
 */
const PENDING: (VerifierState | undefined)[] = [];
const PENDING_INSN = new Int32Array(BPF_COMPLEXITY_LIMIT_JMP_SEQ);
/** the first checkpoint at each instruction, the others linked from it (an array by index: a Map's hashing was a visible share of visited) */
const EXPLORED: (Checkpoint | undefined)[] = [];

/** R1 and R10 at the program's entry, shared by every walk (registers are values) */
const CTX_REG = regPtr('PTR_TO_CTX');
const FP_REG = regPtr('PTR_TO_STACK');

class Walk implements Env {
  cur: VerifierState;
  insnIdx = 0;
  idGen = 0;
  readonly allowPtrLeaks = true;
  insnProcessed = 0;
  /** the loads convert_ctx_accesses will rewrite to BPF_PROBE_MEM (made on the first: most programs have none) */
  probeMem: Set<number> | null = null;
  /** the states in PENDING */
  private nPending = 0;
  private readonly liveness: Liveness;
  /**
   * PRUNE_POINT at the instructions where is_state_visited runs (less those only one path reaches: checksBeforeWalk),
   * ITER_NEXT at the iterator's next calls among them
   */
  private readonly prunePoints: Uint8Array;

  /** prunePoints: checksBeforeWalk's table of the program */
  constructor(readonly prog: VerifierProgram, readonly profile: Profile, prunePoints: Uint8Array) {
    this.liveness = new Liveness(prog);
    // a walk may visit two past the end (checksBeforeWalk)
    while (EXPLORED.length < prog.length + 2) EXPLORED.push(undefined);
    this.prunePoints = prunePoints;
    const regs: RegState[] = new Array<RegState>(11).fill(regNotInit());
    regs[1] = CTX_REG;
    regs[10] = FP_REG;
    // the stack holds no slot until one is written (copies of a state copy only those)
    this.cur = { regs, stack: [], stackOwned: true, refs: [], activeRcu: 0, parent: null };
  }

  /**
   * The access of the load or store being checked, in one object per walk rewritten at each (check_mem_access reads
   * it and keeps nothing of it; an object or two per memory instruction was a share of the walk's allocation).
   */
  private readonly scratch: { regno: number; off: number; size: number; write: Access['write']; mode: number } = { regno: 0, off: 0, size: 0, write: null, mode: 0 };
  private readonly written: { reg: RegState; regno: number | null } = { reg: regNotInit(), regno: null };

  private access(regno: number, off: number, size: number, write: Access['write'], mode: number): Access {
    const a = this.scratch;
    a.regno = regno;
    a.off = off;
    a.size = size;
    a.write = write;
    a.mode = mode;
    return a;
  }

  noteStackRead(slot: number): void {
    this.liveness.noteStackRead(this.insnIdx, slot);
  }

  push(st: VerifierState, insn: number): void {
    if (st.parent !== null) st.parent.branches++;
    if (this.nPending === BPF_COMPLEXITY_LIMIT_JMP_SEQ) reject('jumps_too_complex', { n: this.nPending + 1 });
    PENDING[this.nPending] = st;
    PENDING_INSN[this.nPending++] = insn;
  }

  previousCheckpointState(insn: number): VerifierState | null {
    // the checkpoint is_state_visited just made is cur.parent; the one before it at this insn is the previous visit
    for (let cp = this.cur.parent?.parent ?? null; cp !== null; cp = cp.parent) if (cp.insn === insn) return cp;
    return null;
  }

  /** is_state_visited: true when an explored state covers the current one. */
  private visited(insn: number): boolean {
    const first = EXPLORED[insn];
    // what is live is asked only for a comparison (the first visit of an instruction makes none)
    const live = first === undefined ? null : this.liveness.liveAt(insn);
    let last: Checkpoint | null = null;
    for (let sl = first ?? null; sl !== null; sl = sl.next) {
      last = sl;
      if (sl.branches > 0) {
        if (this.prunePoints[insn] === ITER_NEXT) {
          if (statesEqual(sl, this.cur, live!, 'within') && this.iterActiveAtR1()) return true;
          continue;
        }
        if (statesEqual(sl, this.cur, live!, 'exact')) reject('infinite_loop', { insn });
        continue;
      }
      if (statesEqual(sl, this.cur, live!, 'within')) return true;
    }
    const cp = checkpoint(this.cur, insn);
    if (last === null) EXPLORED[insn] = cp;
    else last.next = cp;
    this.cur.parent = cp;
    return false;
  }

  private iterActiveAtR1(): boolean {
    const r1 = this.cur.regs[1]!;
    if (r1.type !== 'PTR_TO_STACK' || !scalarIsConst(r1.s)) return false;
    const o = r1.off + Number(BigInt.asIntN(64, scalarValue(r1.s)));
    return this.cur.stack[(-o - 1) >> 3]?.iter?.state === 'ACTIVE';
  }

  /** empties the shared queue and checkpoint table after the walk, however it ended */
  release(): void {
    PENDING.fill(undefined, 0, this.nPending);
    EXPLORED.fill(undefined, 0, this.prog.length + 2);
  }

  /** update_branch_counts after a path ends. */
  private pathDone(): void {
    for (let cp = this.cur.parent; cp !== null; cp = cp.parent) {
      if (--cp.branches > 0) break;
    }
  }

  run(): void {
    let insn = 0;
    for (;;) {
      if (++this.insnProcessed > BPF_COMPLEXITY_LIMIT_INSNS) reject('too_large', { n: this.insnProcessed });
      this.insnIdx = insn;
      const next = this.prunePoints[insn] !== 0 && this.visited(insn) ? null : this.step(insn);
      if (next !== null) {
        insn = next;
        continue;
      }
      this.pathDone();
      if (this.nPending === 0) return;
      this.cur = PENDING[--this.nPending]!;
      PENDING[this.nPending] = undefined;
      insn = PENDING_INSN[this.nPending]!;
    }
  }

  /** One instruction; the next instruction, or null at the end of a path. */
  private step(i: number): number | null {
    const words = this.prog.words;
    if (i >= this.prog.length) return unsupported(`fell off the end at insn ${i}`);
    const code = slotCode(words, i);
    const cls = insnClass(code);
    const dst = slotDst(words, i);
    const src = slotSrc(words, i);
    switch (cls) {
      case BPF_ALU:
      case BPF_ALU64:
        this.alu(code, dst, src, slotOff(words, i), slotImm(words, i), cls === BPF_ALU);
        return i + 1;
      case BPF_LD: {
        if (code !== LD_IMM64) return unsupported(`legacy packet load at insn ${i}`);
        const ld = this.prog.ldImm64[i];
        const lo = slotImm(words, i);
        // a program ending in the first slot: the second reads as the first (the walk then falls off the end)
        const hi = i + 1 < this.prog.length ? slotImm(words, i + 1) : lo;
        // a small constant (a BTF id, most often) needs no BigInt
        if (ld === undefined) setReg(this, dst, hi === 0 && lo >= 0 ? regConstImm(lo) : regConst(imm64(lo, hi)));
        else if (ld.kind === 'imm') setReg(this, dst, regConst(ld.value));
        else if (ld.kind === 'map') setReg(this, dst, regPtr('CONST_PTR_TO_MAP', { map: ld.map }));
        else setReg(this, dst, regPtr('PTR_TO_MAP_VALUE', { map: ld.map, off: ld.off }));
        return i + 2;
      }
      case BPF_LDX: {
        if (insnMode(code) !== BPF_MEM) return unsupported(`load mode 0x${code.toString(16)} at insn ${i}`);
        if (isProbeMemBase(this.cur.regs[src])) (this.probeMem ??= new Set()).add(i);
        const v = checkMemAccess(this, this.access(src, slotOff(words, i), insnSizeBytes(code), null, BPF_MEM));
        setReg(this, dst, v!);
        return i + 1;
      }
      case BPF_ST:
      case BPF_STX: {
        const mode = insnMode(code);
        if (mode !== BPF_MEM) return unsupported(`store mode 0x${code.toString(16)} at insn ${i}`);
        const value = cls === BPF_STX ? readReg(this, src) : regConstImm(slotImm(words, i));
        readReg(this, dst);
        const written = this.written;
        written.reg = value;
        written.regno = cls === BPF_STX ? src : null;
        checkMemAccess(this, this.access(dst, slotOff(words, i), insnSizeBytes(code), written, mode));
        return i + 1;
      }
      default:
        return this.jmp(code, dst, src, slotOff(words, i), slotImm(words, i), i, cls === BPF_JMP32);
    }
  }

  private alu(code: number, dstNo: number, srcNo: number, off: number, imm: number, is32: boolean): void {
    const op = ALU_OPS[insnOp(code) >> 4];
    if (op === undefined) return unsupported(`ALU opcode 0x${code.toString(16)}`);
    if (op === 'mov' && off !== 0) return unsupported('sign-extending move (cpu v4)');
    const srcReg = insnSrc(code) === BPF_K
      ? regConstImm(is32 ? imm >>> 0 : imm)
      : readReg(this, srcNo);
    if (op === 'mov') {
      if (dstNo === 10) reject('fp_readonly');
      // a 32-bit move of an immediate moves it already zero-extended (imm >>> 0 above): `w0 = 0` ends most paths
      const zext = is32 && insnSrc(code) !== BPF_K;
      if (srcReg.type === 'SCALAR_VALUE') this.cur.regs[dstNo] = zext ? regScalar(scalarAlu('mov', srcReg.s, srcReg.s, true)) : srcReg;
      else this.cur.regs[dstNo] = is32 ? regUnknown() : srcReg;
      return;
    }
    const dst = readReg(this, dstNo);
    if (dstNo === 10) reject('fp_readonly');
    if ((op === 'div' || op === 'mod') && insnSrc(code) === BPF_K && imm === 0) reject('div_by_zero');
    const dstPtr = dst.type !== 'SCALAR_VALUE';
    const srcPtr = srcReg.type !== 'SCALAR_VALUE';
    if (!dstPtr && !srcPtr) {
      this.cur.regs[dstNo] = regScalar(scalarAlu(op, dst.s, srcReg.s, is32));
      return;
    }
    if (dstPtr && srcPtr) {
      if (op !== 'sub') reject('pointer_alu', { regno: dstNo, op });
      this.cur.regs[dstNo] = regUnknown();
      return;
    }
    const [ptr, scalar] = dstPtr ? [dst, srcReg] : [srcReg, dst];
    if (is32) reject('pointer_32bit', { regno: dstNo });
    if (op !== 'add' && !(op === 'sub' && dstPtr)) reject('pointer_alu', { regno: dstNo, op: op === 'sub' ? 'subtraction from' : 'bitwise operator' });
    const movable = ptr.type === 'PTR_TO_STACK' || ptr.type === 'PTR_TO_MAP_VALUE' || ptr.type === 'PTR_TO_BTF_ID' || ptr.type === 'PTR_TO_MEM';
    if (!movable || (ptr.flags & PTR_MAYBE_NULL)) reject('pointer_arith', { regno: dstNo, type: typeStr(ptr) });
    if (scalarIsConst(scalar.s)) {
      // an immediate is its value (no BigInt round trip: `rX = r10; rX += -N` comes before most helper calls)
      const d = insnSrc(code) === BPF_K ? imm : Number(BigInt.asIntN(64, scalarValue(scalar.s)));
      this.cur.regs[dstNo] = regWith(ptr, { off: ptr.off + (op === 'add' ? d : -d) });
    } else {
      this.cur.regs[dstNo] = regWith(ptr, { s: scalarAlu(op, ptr.s, scalar.s, false) });
    }
  }

  private jmp(code: number, dstNo: number, srcNo: number, off: number, imm: number, i: number, is32: boolean): number | null {
    const op = insnOp(code);
    if (op === BPF_JA) return i + 1 + (is32 ? imm : off);
    if (op === BPF_EXIT) {
      this.exitChecks();
      return null;
    }
    if (op === BPF_CALL) {
      if (srcNo === BPF_PSEUDO_CALL && this.prog.kfuncCalls[i] === undefined) return unsupported('bpf-to-bpf calls');
      const kfunc = this.prog.kfuncCalls[i];
      if (kfunc !== undefined || srcNo === BPF_PSEUDO_KFUNC_CALL) kfuncCall(this, kfunc ?? `#${imm}`, i);
      else helperCall(this, imm, i);
      return i + 1;
    }
    const jop = JMP_OPS[op >> 4];
    if (jop === undefined) return unsupported(`jump opcode 0x${code.toString(16)}`);
    const target = i + 1 + off;
    const dst = readReg(this, dstNo);
    const src = insnSrc(code) === BPF_K ? regConstImm(is32 ? imm >>> 0 : imm) : readReg(this, srcNo);
    const taken = this.branchTaken(jop, dst, src, is32);
    if (taken === 1) return target;
    if (taken === 0) return i + 1;
    const other = copyState(this.cur);
    this.push(other, target);
    if (dst.type === 'SCALAR_VALUE' && src.type === 'SCALAR_VALUE') {
      const neg = negateJmp[jop];
      const srcReg = insnSrc(code) !== BPF_K;
      const [dT, sT] = scalarRefine(jop, dst.s, src.s, is32, true, srcReg);
      other.regs[dstNo] = regScalar(dT);
      if (srcReg) other.regs[srcNo] = regScalar(sT);
      if (neg !== null) {
        const [dF, sF] = scalarRefine(neg, dst.s, src.s, is32, true, srcReg);
        this.cur.regs[dstNo] = regScalar(dF);
        if (srcReg) this.cur.regs[srcNo] = regScalar(sF);
      }
      return i + 1;
    }
    // a NULL check: `if rX == 0` / `if rX != 0` on a maybe-NULL pointer (mark_ptr_or_null_regs)
    const nullCheck = !is32 && (jop === 'jeq' || jop === 'jne');
    if (nullCheck && isNullConst(src) && (dst.flags & PTR_MAYBE_NULL) && dst.type !== 'SCALAR_VALUE') {
      markPtrOrNull(other, dst, jop === 'jeq');
      markPtrOrNull(this.cur, dst, jop === 'jne');
    }
    return i + 1;
  }

  private branchTaken(op: JmpOp, dst: RegState, src: RegState, is32: boolean): 0 | 1 | -1 {
    if (dst.type === 'SCALAR_VALUE' && src.type === 'SCALAR_VALUE') return scalarBranchTaken(op, dst.s, src.s, is32);
    // no [ptr, other] pair: every NULL check comes here
    const ptr = dst.type === 'SCALAR_VALUE' ? src : dst;
    const other = dst.type === 'SCALAR_VALUE' ? dst : src;
    if (other.type !== 'SCALAR_VALUE' || !isNullConst(other) || !regNotNull(ptr) || is32) return -1;
    return op === 'jeq' ? 0 : op === 'jne' ? 1 : -1;
  }

  /** process_bpf_exit's checks of the main program, in the profile's order. */
  private exitChecks(): void {
    const leakFirst = this.profile.features.exit_checks_leak_first;
    if (!leakFirst && this.cur.activeRcu > 0) reject('exit_rcu_locked');
    if (this.cur.refs.length > 0) throw new LeakReject(this.cur.refs.map((r) => ({ id: r.id, insn: r.insn })));
    if (leakFirst && this.cur.activeRcu > 0) reject('exit_rcu_locked');
    const r0 = this.cur.regs[0]!;
    if (r0.type === 'NOT_INIT') reject('r0_not_init');
    if (this.prog.progKind === 'tracing' && !(r0.type === 'SCALAR_VALUE' && scalarIsConst(r0.s) && scalarValue(r0.s) === 0n)) {
      unsupported('fentry return value other than a known 0');
    }
  }
}

/** check_reference_leak: one line per leaked reference, then check_resource_leak's trailer. */
class LeakReject {
  constructor(readonly refs: readonly { id: number; insn: number }[]) {}
}

/** mark_ptr_or_null_regs on one side of a NULL check. */
function markPtrOrNull(st: VerifierState, reg: RegState, isNull: boolean): void {
  const { id, refObjId } = reg;
  if (id === 0) return;
  // mapRegs's walk without its callback: this runs on both sides of every NULL check. A register in several places
  // (spilled, filled back) is most often one value: it is marked once (`from` -> `to`), and the copies stay one value
  let from: RegState | null = null;
  let to: RegState = reg;
  const regs = st.regs;
  for (let i = 0; i < regs.length; i++) {
    const r = regs[i]!;
    if (r.id !== id) continue;
    if (r !== from) { from = r; to = markedPtrOrNull(r, isNull); }
    regs[i] = to;
  }
  const stack = st.stack;
  for (let i = 0; i < stack.length; i++) {
    const slot = stack[i]!;
    const r = slot.spilled;
    if (r === null || r.id !== id) continue;
    if (r !== from) { from = r; to = markedPtrOrNull(r, isNull); }
    if (to !== r) writableStack(st)[i] = { bytes: slot.bytes, spilled: to, iter: slot.iter };
  }
  if (isNull && refObjId !== 0 && refObjId === id) st.refs = st.refs.filter((r) => r.id !== id);
}

/** a register with the NULL check's id after the check: 0 on the NULL side, no longer maybe-NULL on the other */
function markedPtrOrNull(r: RegState, isNull: boolean): RegState {
  if (r.type === 'SCALAR_VALUE' || !(r.flags & PTR_MAYBE_NULL)) return r;
  if (isNull) return regConst(0n);
  return regWith(r, { flags: r.flags & ~PTR_MAYBE_NULL, id: r.type === 'PTR_TO_MAP_VALUE' ? 0 : r.id });
}

/** per extern list (one per object, fromLoader.ts) and profile: the first extern the kernel lacks, in libbpf's order */
const missingExtern = new WeakMap<readonly string[], WeakMap<Profile, string | null>>();

function firstMissingExtern(externKfuncs: readonly string[], profile: Profile): string | null {
  let byProfile = missingExtern.get(externKfuncs);
  if (byProfile === undefined) missingExtern.set(externKfuncs, (byProfile = new WeakMap()));
  let missing = byProfile.get(profile);
  if (missing === undefined) {
    // libbpf resolves the object's __ksym externs (name order, cmp_externs) before any BPF_PROG_LOAD
    missing = [...externKfuncs].sort().find((k) => !profile.kfuncs.includes(k)) ?? null;
    byProfile.set(profile, missing);
  }
  return missing;
}

function hasKfuncCall(prog: VerifierProgram): boolean {
  for (const _ in prog.kfuncCalls) return true;
  return false;
}

/** the paths into instruction `to` counted up to 2: whether more than one reaches it is all that matters */
function addPaths(paths: Uint8Array, to: number, n: number): void {
  const sum = paths[to]! + n;
  paths[to] = sum > 2 ? 2 : sum;
}

/**
 * The checks before the walk, and in the same pass over the instructions the prune point table (into `points`,
 * zeroed to two past the end: a walk may fall off the end of a final jump or ld_imm64, and is then unsupported).
 * A prune point that only one path of the program reaches is visited at most once, so no state stored there is ever
 * compared: it is left out of the table (a checkpoint copied at most points visited, seldom compared, was a large share
 * of the walk's allocation). The paths are counted (`paths`, zeroed as `points`) in instruction order, which is a
 * topological order unless a jump goes back; with a back edge or an iterator's next call (its queued state resumes
 * after the call too) every prune point is kept. Leaving a checkpoint out changes no verdict, message or count: the
 * branch counts of the others are only ever tested for > 0, which holds exactly while some path below them is
 * unfinished, with or without a checkpoint between.
 */
function checksBeforeWalk(prog: VerifierProgram, profile: Profile, points: Uint8Array, paths: Uint8Array): VerifierReject | null {
  const missing = firstMissingExtern(prog.externKfuncs, profile);
  if (missing !== null) return new VerifierReject('kfunc_missing', { func: missing });
  // the license first: most programs are GPL, and listing the calls costs more
  if (!isGplCompatible(prog.license) && hasKfuncCall(prog)) return new VerifierReject('kfunc_non_gpl', {});
  if (prog.progKind === 'tracing' && prog.sleepable && prog.attachTo === 'bpf_fentry_test1' && !profile.features.sleepable_fentry_test1) {
    return new VerifierReject('attach_not_sleepable', { func: prog.attachTo });
  }
  let allKept = false;
  paths[0] = 1;
  for (let i = 0; i < prog.length; i++) {
    const code = slotCode(prog.words, i);
    const cls = insnClass(code);
    const reaching = paths[i]!;
    if (cls === BPF_LD) {
      addPaths(paths, i + 2, reaching);
      i++;
      continue;
    }
    if (cls !== BPF_JMP && cls !== BPF_JMP32) {
      addPaths(paths, i + 1, reaching);
      continue;
    }
    const op = insnOp(code);
    if (op === BPF_CALL) {
      if (prog.kfuncCalls[i] === 'bpf_iter_num_next') {
        points[i] = ITER_NEXT;
        allKept = true;
      }
      addPaths(paths, i + 1, reaching);
      continue;
    }
    if (op === BPF_EXIT) continue;
    const target = jumpTarget(prog.words, i, code);
    // the successors in order: a conditional jump's fall-through, then the target
    if (op !== BPF_JA && i + 1 >= prog.length) return new VerifierReject('jmp_out_of_range', { from: i, to: i + 1 });
    if (target < 0 || target >= prog.length) return new VerifierReject('jmp_out_of_range', { from: i, to: target });
    if (target <= i) allKept = true;
    // the jump's successors, and a conditional jump itself, are where is_state_visited runs
    points[target] ||= PRUNE_POINT;
    addPaths(paths, target, reaching);
    if (op !== BPF_JA) {
      points[i] ||= PRUNE_POINT;
      points[i + 1] ||= PRUNE_POINT;
      addPaths(paths, i + 1, reaching);
    }
  }
  if (!allKept) for (let i = 0; i < prog.length; i++) if (paths[i]! < 2) points[i] = 0;
  return null;
}

/**
 * Whether a load through `reg` becomes BPF_PROBE_MEM: convert_ctx_accesses rewrites loads through PTR_TO_BTF_ID |
 * PTR_UNTRUSTED and PTR_TO_BTF_ID | MEM_ALLOC | PTR_UNTRUSTED (an object whose lifetime the verifier no longer vouches
 * for: a fault reads 0). Trusted kernel pointers too, but the machine's kernel structs never fault, so they need none.
 */
function isProbeMemBase(reg: RegState | undefined): boolean {
  return reg !== undefined && reg.type === 'PTR_TO_BTF_ID' && (reg.flags === PTR_UNTRUSTED || reg.flags === (MEM_ALLOC | PTR_UNTRUSTED));
}

function rejection(profile: Profile, site: string, lines: string[], insnProcessed: number): VerifyResult {
  const m = profile.messages[site]!;
  const stats = m.stage === 'libbpf' ? [] : [`processed ${insnProcessed} insns (limit ${BPF_COMPLEXITY_LIMIT_INSNS})`];
  return {
    verdict: 'rejected', stage: m.stage, errno: m.errnoNumber, errnoName: m.errno, site, fn: m.fn,
    log: [...lines, ...stats].join('\n') + '\n', insnProcessed,
  };
}

/** Verifies one program as the profile's kernel would. */
export function verifyProgram(prog: VerifierProgram, profile: Profile): VerifyResult {
  const prunePoints = (prunePointBuffer = zeroed(prunePointBuffer, prog.length + 2));
  pathCountBuffer = zeroed(pathCountBuffer, prog.length + 2);
  const early = checksBeforeWalk(prog, profile, prunePoints, pathCountBuffer);
  if (early !== null) return rejection(profile, early.site, siteLines(profile, early.site, early.params), 0);
  const walk = new Walk(prog, profile, prunePoints);
  try {
    walk.run();
  } catch (e) {
    if (e instanceof VerifierReject) return rejection(profile, e.site, siteLines(profile, e.site, e.params), walk.insnProcessed);
    if (e instanceof LeakReject) {
      const lines = e.refs.flatMap((r, k) => {
        const l = siteLines(profile, 'unreleased_reference', r);
        return k === 0 ? l : l.filter((x) => !x.startsWith('Verification failed: '));
      });
      return rejection(profile, 'unreleased_reference', [...lines, ...siteLines(profile, 'reference_leak', {})], walk.insnProcessed);
    }
    if (e instanceof VerifierUnsupported) return { verdict: 'unsupported', reason: e.reason, insn: walk.insnIdx };
    throw e;
  } finally {
    walk.release();
  }
  const probeMem = walk.probeMem === null ? [] : [...walk.probeMem].sort((a, b) => a - b);
  return { verdict: 'accepted', log: `processed ${walk.insnProcessed} insns (limit ${BPF_COMPLEXITY_LIMIT_INSNS})\n`, insnProcessed: walk.insnProcessed, probeMem };
}

