import { BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL } from '../../bpf/asm/opcode.ts';
import { AddressSpace, MachineFault } from '../memory/AddressSpace.ts';

/**
 * The BPF instruction loop (Documentation/bpf/standardization/instruction-set.rst): ISA v1–v4, as clang-16
 * (-mcpu=v3) and the direct writer emit and newer clangs add (memsx, movsx, sdiv/smod, bswap, gotol, atomics).
 * Registers are 64-bit, kept as two Int32 halves so the common ops stay in Number arithmetic; mul/div/mod of 64-bit
 * values go through BigInt. Memory goes through AddressSpace (checked), calls through a CallEnv (the machine's
 * helpers and kfuncs). A fault never escapes as an exception: execute() returns it as data.
 */


/** r0–r10 as low and high 32-bit halves. */
export interface Regs {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
}

export function newRegs(): Regs {
  return { lo: new Int32Array(11), hi: new Int32Array(11) };
}

/** What instructions reach outside the register file; helpers and kfuncs read r1–r5 and set r0, or throw MachineFault. */
export interface CallEnv {
  readonly mem: AddressSpace;
  /** `call imm` (src_reg 0): a helper by id */
  helper(id: number, regs: Regs): void;
  /** `call imm` with src_reg BPF_PSEUDO_KFUNC_CALL (2): imm as the loader set it */
  kfunc(imm: number, regs: Regs, dst: number): void;
  /** ld_imm64 with src_reg ≠ 0 (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, ...): the address into regs[dst] */
  ldImm64(src: number, imm: number, nextImm: number, regs: Regs, dst: number): void;
}

export type ExecResult =
  | { readonly kind: 'exit'; readonly lo: number; readonly hi: number }
  /** `address` null: the fault is not an access (unknown opcode, helper, call depth) */
  | { readonly kind: 'fault'; readonly insn: number; readonly why: string; readonly hi: number | null; readonly lo: number };

export interface ExecOptions {
  /** one stack region per call frame (MAX_CALL_FRAMES = 8), each 512 bytes (MAX_BPF_STACK) */
  readonly stacks: readonly number[];
  /** instructions before the run is stopped as a fault */
  readonly maxInsns: number;
  /** scratch space reused across runs: two words for 8-byte loads, and the call-frame stack */
  readonly scratch: Int32Array;
  readonly frames: number[];
}

export const MAX_BPF_STACK = 512;
const STACK_HI = (id: number): number => AddressSpace.hiOf(id);

const big = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
const sbig = (lo: number, hi: number): bigint => BigInt.asIntN(64, big(lo, hi));

function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/**
 * 64-bit comparison of the JMP class: op is the high nibble of the opcode (BPF_JEQ 0x10 ... BPF_JSLE 0xd0).
 * Returns null for an op that is not a comparison.
 */
function cmp64(op: number, alo: number, ahi: number, blo: number, bhi: number): boolean | null {
  const ul = alo >>> 0, ur = blo >>> 0;
  const uh = ahi >>> 0, vh = bhi >>> 0;
  switch (op) {
    case 0x10: return alo === blo && ahi === bhi;
    case 0x50: return alo !== blo || ahi !== bhi;
    case 0x20: return uh > vh || (uh === vh && ul > ur);
    case 0x30: return uh > vh || (uh === vh && ul >= ur);
    case 0xa0: return uh < vh || (uh === vh && ul < ur);
    case 0xb0: return uh < vh || (uh === vh && ul <= ur);
    case 0x60: return ahi > bhi || (ahi === bhi && ul > ur);
    case 0x70: return ahi > bhi || (ahi === bhi && ul >= ur);
    case 0xc0: return ahi < bhi || (ahi === bhi && ul < ur);
    case 0xd0: return ahi < bhi || (ahi === bhi && ul <= ur);
    case 0x40: return (alo & blo) !== 0 || (ahi & bhi) !== 0;
    default: return null;
  }
}

function cmp32(op: number, a: number, b: number): boolean | null {
  const ua = a >>> 0, ub = b >>> 0;
  switch (op) {
    case 0x10: return a === b;
    case 0x50: return a !== b;
    case 0x20: return ua > ub;
    case 0x30: return ua >= ub;
    case 0xa0: return ua < ub;
    case 0xb0: return ua <= ub;
    case 0x60: return a > b;
    case 0x70: return a >= b;
    case 0xc0: return a < b;
    case 0xd0: return a <= b;
    case 0x40: return (a & b) !== 0;
    default: return null;
  }
}

/** access size by the opcode's size bits ((code >> 3) & 3: BPF_W, BPF_H, BPF_B, BPF_DW); a typed array, not a keyed object */
const SIZE_OF_LDST = Int8Array.of(4, 2, 1, 8);

/**
 * A BPF_PROBE_MEM load: the kernel's exception table turns a fault into 0 in the destination, so a load through an
 * untrusted pointer never oopses (convert_ctx_accesses rewrites exactly those loads).
 */
function probeLoad(mem: AddressSpace, hi: number, lo: number, size: 1 | 2 | 4 | 8, out: Int32Array): void {
  try {
    if (size === 8) mem.load64(hi, lo, out);
    else {
      out[0] = mem.load32(hi, lo, size);
      out[1] = 0;
    }
  } catch (e) {
    if (!(e instanceof MachineFault)) throw e;
    out[0] = 0;
    out[1] = 0;
  }
}

/**
 * Runs `words` (slot words: bpf/asm insn.ts decodeInsnWords) from instruction 0 with r1 = ctx (hi:lo) until the outermost exit.
 */
export function execute(words: Int32Array, env: CallEnv, regs: Regs, opts: ExecOptions): ExecResult {
  const { lo: L, hi: H } = regs;
  const mem = env.mem;
  const n = words.length >> 1;
  const tmp = opts.scratch;
  // call frames: return pc and callee-saved r6–r10 of each caller
  const frames = opts.frames;
  // setting an array's length is a runtime call; most runs make no subprogram call
  if (frames.length !== 0) frames.length = 0;
  let depth = 0;
  let pc = 0;
  let budget = opts.maxInsns;
  H[10] = STACK_HI(opts.stacks[0] as number);
  L[10] = MAX_BPF_STACK;
  try {
    for (;;) {
      if (pc < 0 || pc >= n) return { kind: 'fault', insn: pc, why: 'jump out of the program', hi: null, lo: 0 };
      if (--budget < 0) return { kind: 'fault', insn: pc, why: `more than ${opts.maxInsns} instructions executed`, hi: null, lo: 0 };
      const w = words[2 * pc] as number;
      const c = w & 0xff;
      const d = (w >>> 8) & 0xf;
      const s = (w >>> 12) & 0xf;
      const off = w >> 16;
      const imm = words[2 * pc + 1] as number;
      const cls = c & 7;
      switch (cls) {
        case 7: // BPF_ALU64
        case 4: { // BPF_ALU
          const op = c & 0xf0;
          const x = (c & 8) !== 0;
          let blo: number, bhi: number;
          if (x) {
            blo = L[s] as number;
            bhi = H[s] as number;
          } else {
            blo = imm;
            bhi = imm >> 31;
          }
          if (cls === 4) {
            const a = L[d] as number;
            let r: number;
            switch (op) {
              case 0x00: r = (a + blo) | 0; break;
              case 0x10: r = (a - blo) | 0; break;
              case 0x20: r = Math.imul(a, blo); break;
              case 0x30: // div / sdiv (off 1)
                if (off === 1) r = blo === 0 ? 0 : a === -0x80000000 && blo === -1 ? a : (a / blo) | 0;
                else r = blo === 0 ? 0 : Math.floor((a >>> 0) / (blo >>> 0)) | 0;
                break;
              case 0x40: r = a | blo; break;
              case 0x50: r = a & blo; break;
              case 0x60: r = a << (blo & 31); break;
              case 0x70: r = a >>> (blo & 31); break;
              case 0x80: r = -a | 0; break;
              case 0x90: // mod / smod (off 1)
                if (off === 1) r = blo === 0 ? a : blo === -1 ? 0 : a % blo | 0;
                else r = blo === 0 ? a : ((a >>> 0) % (blo >>> 0)) | 0;
                break;
              case 0xa0: r = a ^ blo; break;
              case 0xb0: r = off === 8 ? (blo << 24) >> 24 : off === 16 ? (blo << 16) >> 16 : blo; break;
              case 0xc0: r = a >> (blo & 31); break;
              case 0xd0: { // BPF_END: to_le (0xd4) / to_be (0xdc)
                if (imm === 16) r = x ? ((a & 0xff) << 8) | ((a >>> 8) & 0xff) : a & 0xffff;
                else if (imm === 32) r = x ? bswap32(a) : a;
                else if (imm === 64) {
                  if (x) {
                    const h = H[d] as number;
                    L[d] = bswap32(h);
                    H[d] = bswap32(a);
                  }
                  pc++;
                  continue;
                } else return { kind: 'fault', insn: pc, why: `invalid byte swap width ${imm}`, hi: null, lo: 0 };
                break;
              }
              default:
                return { kind: 'fault', insn: pc, why: `unknown opcode ${c.toString(16).padStart(2, '0')}`, hi: null, lo: 0 };
            }
            L[d] = r;
            H[d] = 0;
            pc++;
            continue;
          }
          // 64-bit
          const alo = L[d] as number, ahi = H[d] as number;
          switch (op) {
            case 0x00: {
              const sum = (alo >>> 0) + (blo >>> 0);
              L[d] = sum;
              H[d] = (ahi + bhi + (sum > 0xffffffff ? 1 : 0)) | 0;
              break;
            }
            case 0x10: {
              const dif = (alo >>> 0) - (blo >>> 0);
              L[d] = dif;
              H[d] = (ahi - bhi - (dif < 0 ? 1 : 0)) | 0;
              break;
            }
            case 0x20: setBig(L, H, d, big(alo, ahi) * big(blo, bhi)); break;
            case 0x30: {
              const b = off === 1 ? sbig(blo, bhi) : big(blo, bhi);
              setBig(L, H, d, b === 0n ? 0n : (off === 1 ? sbig(alo, ahi) : big(alo, ahi)) / b);
              break;
            }
            case 0x90: {
              const b = off === 1 ? sbig(blo, bhi) : big(blo, bhi);
              if (b !== 0n) setBig(L, H, d, (off === 1 ? sbig(alo, ahi) : big(alo, ahi)) % b);
              break;
            }
            case 0x40: L[d] = alo | blo; H[d] = ahi | bhi; break;
            case 0x50: L[d] = alo & blo; H[d] = ahi & bhi; break;
            case 0xa0: L[d] = alo ^ blo; H[d] = ahi ^ bhi; break;
            case 0x80: L[d] = -alo; H[d] = ~ahi + (alo === 0 ? 1 : 0); break;
            case 0x60: {
              const k = blo & 63;
              if (k === 0) break;
              if (k < 32) { H[d] = (ahi << k) | (alo >>> (32 - k)); L[d] = alo << k; } else { H[d] = alo << (k - 32); L[d] = 0; }
              break;
            }
            case 0x70: {
              const k = blo & 63;
              if (k === 0) break;
              if (k < 32) { L[d] = (alo >>> k) | (ahi << (32 - k)); H[d] = ahi >>> k; } else { L[d] = ahi >>> (k - 32); H[d] = 0; }
              break;
            }
            case 0xc0: {
              const k = blo & 63;
              if (k === 0) break;
              if (k < 32) { L[d] = (alo >>> k) | (ahi << (32 - k)); H[d] = ahi >> k; } else { L[d] = ahi >> (k - 32); H[d] = ahi >> 31; }
              break;
            }
            case 0xb0:
              if (off === 0) { L[d] = blo; H[d] = bhi; }
              else if (off === 8) { L[d] = (blo << 24) >> 24; H[d] = (L[d] as number) >> 31; }
              else if (off === 16) { L[d] = (blo << 16) >> 16; H[d] = (L[d] as number) >> 31; }
              else if (off === 32) { L[d] = blo; H[d] = blo >> 31; }
              else return { kind: 'fault', insn: pc, why: `invalid movsx width ${off}`, hi: null, lo: 0 };
              break;
            case 0xd0: // BPF_ALU64 | BPF_END: bswap (v4)
              if (imm === 16) { L[d] = ((alo & 0xff) << 8) | ((alo >>> 8) & 0xff); H[d] = 0; }
              else if (imm === 32) { L[d] = bswap32(alo); H[d] = 0; }
              else if (imm === 64) { L[d] = bswap32(ahi); H[d] = bswap32(alo); }
              else return { kind: 'fault', insn: pc, why: `invalid byte swap width ${imm}`, hi: null, lo: 0 };
              break;
            default:
              return { kind: 'fault', insn: pc, why: `unknown opcode ${c.toString(16).padStart(2, '0')}`, hi: null, lo: 0 };
          }
          pc++;
          continue;
        }
        case 5: // BPF_JMP
        case 6: { // BPF_JMP32
          const op = c & 0xf0;
          if (op === 0x00) { // ja / gotol
            pc += 1 + (cls === 6 ? imm : off);
            continue;
          }
          if (op === 0x80 && cls === 5) { // call
            if (s === 0) env.helper(imm, regs);
            else if (s === BPF_PSEUDO_KFUNC_CALL) env.kfunc(imm, regs, d);
            else if (s === BPF_PSEUDO_CALL) {
              if (depth + 1 >= opts.stacks.length) return { kind: 'fault', insn: pc, why: `call depth exceeds ${opts.stacks.length} frames`, hi: null, lo: 0 };
              frames.push(pc + 1, L[6] as number, H[6] as number, L[7] as number, H[7] as number, L[8] as number, H[8] as number, L[9] as number, H[9] as number, L[10] as number, H[10] as number);
              depth++;
              H[10] = STACK_HI(opts.stacks[depth] as number);
              L[10] = MAX_BPF_STACK;
              pc += 1 + imm;
              continue;
            } else return { kind: 'fault', insn: pc, why: `call with src_reg ${s} is not supported`, hi: null, lo: 0 };
            pc++;
            continue;
          }
          if (op === 0x90 && cls === 5) { // exit
            if (depth === 0) return { kind: 'exit', lo: L[0] as number, hi: H[0] as number };
            depth--;
            const f = frames.length - 11;
            pc = frames[f] as number;
            for (let r = 6, k = f + 1; r <= 10; r++, k += 2) {
              L[r] = frames[k] as number;
              H[r] = frames[k + 1] as number;
            }
            frames.length = f;
            continue;
          }
          const x = (c & 8) !== 0;
          const taken = cls === 5
            ? cmp64(op, L[d] as number, H[d] as number, x ? (L[s] as number) : imm, x ? (H[s] as number) : imm >> 31)
            : cmp32(op, L[d] as number, x ? (L[s] as number) : imm);
          if (taken === null) return { kind: 'fault', insn: pc, why: `unknown opcode ${c.toString(16).padStart(2, '0')}`, hi: null, lo: 0 };
          pc += taken ? 1 + off : 1;
          continue;
        }
        case 1: { // BPF_LDX
          const mode = c & 0xe0;
          const size = SIZE_OF_LDST[(c >> 3) & 3] as 1 | 2 | 4 | 8;
          const alo = ((L[s] as number) + off) | 0;
          const ahi = offsetHi(L[s] as number, H[s] as number, off);
          if (mode === 0x60) { // BPF_MEM
            if (size === 8) {
              mem.load64(ahi, alo, tmp);
              L[d] = tmp[0] as number;
              H[d] = tmp[1] as number;
            } else {
              L[d] = mem.load32(ahi, alo, size);
              H[d] = 0;
            }
          } else if (mode === 0x20) { // BPF_PROBE_MEM (Machine.probeMem): the verifier's rewrite of an untrusted load
            probeLoad(mem, ahi, alo, size, tmp);
            L[d] = tmp[0] as number;
            H[d] = tmp[1] as number;
          } else if (mode === 0x80 && size !== 8) { // BPF_MEMSX (v4)
            const v = mem.load32(ahi, alo, size);
            L[d] = size === 4 ? v : size === 2 ? (v << 16) >> 16 : (v << 24) >> 24;
            H[d] = (L[d] as number) >> 31;
          } else return { kind: 'fault', insn: pc, why: `unknown opcode ${c.toString(16).padStart(2, '0')}`, hi: null, lo: 0 };
          pc++;
          continue;
        }
        case 2: // BPF_ST
        case 3: { // BPF_STX
          const mode = c & 0xe0;
          const size = SIZE_OF_LDST[(c >> 3) & 3] as 1 | 2 | 4 | 8;
          const alo = ((L[d] as number) + off) | 0;
          const ahi = offsetHi(L[d] as number, H[d] as number, off);
          const vlo = cls === 2 ? imm : (L[s] as number);
          const vhi = cls === 2 ? imm >> 31 : (H[s] as number);
          if (mode === 0x60) {
            if (size === 8) mem.store64(ahi, alo, vlo, vhi);
            else mem.store32(ahi, alo, size, vlo);
          } else if (mode === 0xc0 && cls === 3 && (size === 4 || size === 8)) {
            const why = atomic(mem, size, imm, ahi, alo, regs, s, tmp);
            if (why !== null) return { kind: 'fault', insn: pc, why, hi: null, lo: 0 };
          } else return { kind: 'fault', insn: pc, why: `unknown opcode ${c.toString(16).padStart(2, '0')}`, hi: null, lo: 0 };
          pc++;
          continue;
        }
        case 0: { // BPF_LD
          if (c !== 0x18 || pc + 1 >= n) return { kind: 'fault', insn: pc, why: `unknown opcode ${c.toString(16).padStart(2, '0')}`, hi: null, lo: 0 };
          if (s === 0) {
            L[d] = imm;
            H[d] = words[2 * pc + 3] as number;
          } else {
            env.ldImm64(s, imm, words[2 * pc + 3] as number, regs, d);
          }
          pc += 2;
          continue;
        }
      }
    }
  } catch (e) {
    if (e instanceof MachineFault) return { kind: 'fault', insn: pc, why: e.why, hi: e.hi, lo: e.lo };
    throw e;
  }
}

/** the high half of the 64-bit address lo:hi + off (off a signed 16-bit instruction offset) */
function offsetHi(lo: number, hi: number, off: number): number {
  const sum = (lo >>> 0) + off;
  return (hi + (sum > 0xffffffff ? 1 : sum < 0 ? -1 : 0)) | 0;
}

function setBig(L: Int32Array, H: Int32Array, d: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  L[d] = Number(u & 0xffffffffn);
  H[d] = Number(u >> 32n);
}

/** BPF_ATOMIC (BPF_STX | BPF_ATOMIC): add/or/and/xor (+ BPF_FETCH), xchg, cmpxchg; null or why it is invalid. */
function atomic(mem: AddressSpace, size: 4 | 8, imm: number, ahi: number, alo: number, regs: Regs, s: number, tmp: Int32Array): string | null {
  const { lo: L, hi: H } = regs;
  let olo: number, ohi: number;
  if (size === 8) {
    mem.load64(ahi, alo, tmp);
    olo = tmp[0] as number;
    ohi = tmp[1] as number;
  } else {
    olo = mem.load32(ahi, alo, 4);
    ohi = 0;
  }
  const slo = L[s] as number, shi = size === 8 ? (H[s] as number) : 0;
  let nlo: number, nhi: number;
  const op = imm & ~1;
  const fetch = (imm & 1) !== 0;
  switch (op) {
    case 0x00: {
      const sum = (olo >>> 0) + (slo >>> 0);
      nlo = sum | 0;
      nhi = (ohi + shi + (sum > 0xffffffff ? 1 : 0)) | 0;
      break;
    }
    case 0x40: nlo = olo | slo; nhi = ohi | shi; break;
    case 0x50: nlo = olo & slo; nhi = ohi & shi; break;
    case 0xa0: nlo = olo ^ slo; nhi = ohi ^ shi; break;
    case 0xe0: // BPF_XCHG (always fetches)
      nlo = slo;
      nhi = shi;
      break;
    case 0xf0: { // BPF_CMPXCHG: compare with r0, old value to r0
      const eq = size === 8 ? olo === L[0] && ohi === H[0] : olo === L[0];
      nlo = eq ? slo : olo;
      nhi = eq ? shi : ohi;
      if (size === 8) mem.store64(ahi, alo, nlo, nhi);
      else mem.store32(ahi, alo, 4, nlo);
      L[0] = olo;
      H[0] = ohi;
      return null;
    }
    default:
      return `unknown atomic operation ${imm.toString(16)}`;
  }
  if (size === 8) mem.store64(ahi, alo, nlo, nhi);
  else mem.store32(ahi, alo, 4, nlo);
  if (fetch || op === 0xe0) {
    L[s] = olo;
    H[s] = ohi;
  }
  return null;
}
