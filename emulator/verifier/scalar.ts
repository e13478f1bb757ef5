/**
 * Scalar bounds as the verifier keeps them (struct bpf_reg_state): a tnum plus signed and unsigned 64-bit and 32-bit
 * ranges, kept consistent by reg_bounds_sync; ALU transfer (adjust_scalar_min_max_vals), is_branch_taken and the
 * branch refinement of reg_set_min_max. 32-bit ALU results are computed on the zero-extended operands and truncated,
 * which over-approximates the kernel's separate 32-bit tracking.
 */
import {
  TNUM_UNKNOWN, U32, U64, type Tnum, tnumAdd, tnumAnd, tnumArshift, tnumCast32, tnumConst, tnumIntersect, tnumIsConst,
  tnumLshift, tnumMul, tnumOr, tnumOverlap, tnumRange, tnumRshift, tnumSub, tnumWithSubreg, tnumXor,
} from './tnum.ts';

export interface Scalar {
  varOff: Tnum;
  smin: bigint;
  smax: bigint;
  umin: bigint;
  umax: bigint;
  s32min: bigint;
  s32max: bigint;
  u32min: bigint;
  u32max: bigint;
}

const S64_MIN = -(1n << 63n);
const S64_MAX = (1n << 63n) - 1n;
const S32_MIN = -(1n << 31n);
const S32_MAX = (1n << 31n) - 1n;

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const s32 = (v: bigint): bigint => BigInt.asIntN(32, v);
const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);

export function scalarUnknown(): Scalar {
  return { varOff: TNUM_UNKNOWN, smin: S64_MIN, smax: S64_MAX, umin: 0n, umax: U64, s32min: S32_MIN, s32max: S32_MAX, u32min: 0n, u32max: U32 };
}

/** field by field in scalarUnknown's order (a spread gives the copy another hidden class: see regScalar) */
const scalarCopy = (s: Scalar): Scalar => ({
  varOff: s.varOff, smin: s.smin, smax: s.smax, umin: s.umin, umax: s.umax, s32min: s.s32min, s32max: s.s32max, u32min: s.u32min, u32max: s.u32max,
});

export function scalarConst(v: bigint): Scalar {
  const u = BigInt.asUintN(64, v);
  const l = u32(u);
  // each conversion once (BigInt operations allocate): a constant is made for every immediate beyond the small ones
  const s = s64(u);
  const s32l = s32(l);
  return { varOff: tnumConst(u), smin: s, smax: s, umin: u, umax: u, s32min: s32l, s32max: s32l, u32min: l, u32max: l };
}

export const scalarIsConst = (s: Scalar): boolean => tnumIsConst(s.varOff);
/** The constant's unsigned 64-bit value (only meaningful when scalarIsConst). */
export const scalarValue = (s: Scalar): bigint => s.varOff.value;

/** range_within: every value `cur` may hold, `old` may hold too. */
export function scalarWithin(old: Scalar, cur: Scalar): boolean {
  return old.umin <= cur.umin && old.umax >= cur.umax && old.smin <= cur.smin && old.smax >= cur.smax
    && old.u32min <= cur.u32min && old.u32max >= cur.u32max && old.s32min <= cur.s32min && old.s32max >= cur.s32max
    && (cur.varOff.mask & ~old.varOff.mask) === 0n && old.varOff.value === (cur.varOff.value & ~old.varOff.mask);
}

/** Whether concrete `v` (u64) is a member of the abstract value: the soundness property the tests check. */
export function scalarContains(s: Scalar, v: bigint): boolean {
  const u = BigInt.asUintN(64, v);
  const l = u32(u);
  return ((u & ~s.varOff.mask) === s.varOff.value) && u >= s.umin && u <= s.umax && s64(u) >= s.smin && s64(u) <= s.smax
    && l >= s.u32min && l <= s.u32max && s32(l) >= s.s32min && s32(l) <= s.s32max;
}

function updateBounds(r: Scalar): void {
  const t = r.varOff;
  r.smin = max(r.smin, s64(t.value | (t.mask & (1n << 63n))));
  r.smax = min(r.smax, s64(t.value | (t.mask & S64_MAX)));
  r.umin = max(r.umin, t.value);
  r.umax = min(r.umax, t.value | t.mask);
  const t32 = tnumCast32(t);
  r.s32min = max(r.s32min, s32(t32.value | (t32.mask & (1n << 31n))));
  r.s32max = min(r.s32max, s32(t32.value | (t32.mask & S32_MAX)));
  r.u32min = max(r.u32min, t32.value);
  r.u32max = min(r.u32max, t32.value | t32.mask);
}

function deduceBounds(r: Scalar): void {
  // 64-bit range → 32-bit subregister, when the upper halves agree (__reg32_deduce_bounds)
  // each BigInt operation allocates: the halves are computed once (this runs twice per reg_bounds_sync)
  if (r.umin >> 32n === r.umax >> 32n) {
    const lo = u32(r.umin);
    const hi = u32(r.umax);
    r.u32min = max(r.u32min, lo);
    r.u32max = min(r.u32max, hi);
    const slo = s32(lo);
    const shi = s32(hi);
    if (slo <= shi) {
      r.s32min = max(r.s32min, slo);
      r.s32max = min(r.s32max, shi);
    }
  }
  const sminU = BigInt.asUintN(64, r.smin);
  const smaxU = BigInt.asUintN(64, r.smax);
  if (sminU >> 32n === smaxU >> 32n) {
    const lo = s32(sminU);
    const hi = s32(smaxU);
    if (lo <= hi) {
      r.s32min = max(r.s32min, lo);
      r.s32max = min(r.s32max, hi);
    }
  }
  // 32-bit signed ↔ unsigned when the sign is known
  if (r.u32min >> 31n === r.u32max >> 31n) {
    r.s32min = max(r.s32min, s32(r.u32min));
    r.s32max = min(r.s32max, s32(r.u32max));
  }
  if (r.s32min >= 0n || r.s32max < 0n) {
    r.u32min = max(r.u32min, u32(r.s32min));
    r.u32max = min(r.u32max, u32(r.s32max));
  }
  // 64-bit signed ↔ unsigned (__reg64_deduce_bounds, the simple cases)
  if (r.umax <= S64_MAX) {
    r.smin = max(r.smin, r.umin);
    r.smax = min(r.smax, r.umax);
  } else if (r.umin > S64_MAX) {
    r.smin = max(r.smin, s64(r.umin));
    r.smax = min(r.smax, s64(r.umax));
  }
  if (r.smin >= 0n || r.smax < 0n) {
    r.umin = max(r.umin, BigInt.asUintN(64, r.smin));
    r.umax = min(r.umax, BigInt.asUintN(64, r.smax));
  }
  // 32-bit subregister → 64-bit (__reg_deduce_mixed_bounds)
  const lo = (r.umin & ~U32) | r.u32min;
  const hi = (r.umax & ~U32) | r.u32max;
  r.umin = max(r.umin, lo);
  r.umax = min(r.umax, hi);
}

function boundOffset(r: Scalar): void {
  const t64 = tnumIntersect(r.varOff, tnumRange(r.umin, r.umax));
  const t32 = tnumIntersect(tnumCast32(t64), tnumRange(r.u32min, r.u32max));
  r.varOff = tnumWithSubreg(t64, t32);
}

/** reg_bounds_sync. */
export function scalarSync(r: Scalar): Scalar {
  updateBounds(r);
  deduceBounds(r);
  deduceBounds(r);
  boundOffset(r);
  updateBounds(r);
  return r;
}

/** A scalar with only the given 64-bit unsigned range known. */
export function scalarURange(lo: bigint, hi: bigint): Scalar {
  const r = scalarUnknown();
  r.umin = lo;
  r.umax = hi;
  return scalarSync(r);
}

/** The value zero-extended from its low 32 bits (what a 32-bit ALU result or a u32 load holds). */
export function scalarZext32(a: Scalar): Scalar {
  // a constant whose 32-bit bounds agree stays that constant (what the sync below finds, without its BigInt work:
  // most 32-bit moves are of an immediate)
  const l = a.varOff.value & U32;
  if (a.varOff.mask === 0n && a.u32min === l && a.u32max === l && a.s32min === s32(l) && a.s32max === a.s32min) return scalarConst(l);
  const r = scalarUnknown();
  r.varOff = tnumCast32(a.varOff);
  r.umin = a.u32min;
  r.umax = a.u32max;
  r.u32min = a.u32min;
  r.u32max = a.u32max;
  r.s32min = a.s32min;
  r.s32max = a.s32max;
  return scalarSync(r);
}

/** Truncation of a 64-bit abstract value to its low 32 bits, zero-extended. */
function truncate32(a: Scalar): Scalar {
  const r = scalarUnknown();
  r.varOff = tnumCast32(a.varOff);
  if (a.umin >> 32n === a.umax >> 32n) {
    r.u32min = u32(a.umin);
    r.u32max = u32(a.umax);
  }
  r.umin = r.u32min;
  r.umax = r.u32max;
  return scalarSync(r);
}

export type AluOp = 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'or' | 'and' | 'xor' | 'lsh' | 'rsh' | 'arsh' | 'neg' | 'mov';

function add64(a: Scalar, b: Scalar): Scalar {
  const r = scalarUnknown();
  r.varOff = tnumAdd(a.varOff, b.varOff);
  const smin = a.smin + b.smin;
  const smax = a.smax + b.smax;
  if (smin >= S64_MIN && smax <= S64_MAX) { r.smin = smin; r.smax = smax; }
  const umin = a.umin + b.umin;
  const umax = a.umax + b.umax;
  if (umax <= U64) { r.umin = umin; r.umax = umax; }
  return r;
}

function sub64(a: Scalar, b: Scalar): Scalar {
  const r = scalarUnknown();
  r.varOff = tnumSub(a.varOff, b.varOff);
  const smin = a.smin - b.smax;
  const smax = a.smax - b.smin;
  if (smin >= S64_MIN && smax <= S64_MAX) { r.smin = smin; r.smax = smax; }
  if (a.umin >= b.umax) { r.umin = a.umin - b.umax; r.umax = a.umax - b.umin; }
  return r;
}

function mul64(a: Scalar, b: Scalar): Scalar {
  const r = scalarUnknown();
  r.varOff = tnumMul(a.varOff, b.varOff);
  const umax = a.umax * b.umax;
  if (umax <= U64) { r.umin = a.umin * b.umin; r.umax = umax; }
  return r;
}

function shiftAmount(b: Scalar, bits: number): number | null {
  return scalarIsConst(b) && scalarValue(b) < BigInt(bits) ? Number(scalarValue(b)) : null;
}

function alu64(op: AluOp, a: Scalar, b: Scalar): Scalar {
  if (scalarIsConst(a) && scalarIsConst(b)) {
    const x = scalarValue(a);
    const y = scalarValue(b);
    switch (op) {
      case 'div': return scalarConst(y === 0n ? 0n : x / y);
      case 'mod': return scalarConst(y === 0n ? x : x % y);
      default: break;
    }
  }
  let r: Scalar;
  switch (op) {
    case 'mov': return scalarCopy(b);
    case 'add': r = add64(a, b); break;
    case 'sub': r = sub64(a, b); break;
    case 'mul': r = mul64(a, b); break;
    case 'and': {
      r = scalarUnknown();
      r.varOff = tnumAnd(a.varOff, b.varOff);
      r.umax = min(a.umax, b.umax);
      break;
    }
    case 'or': {
      r = scalarUnknown();
      r.varOff = tnumOr(a.varOff, b.varOff);
      r.umin = max(a.umin, b.umin);
      break;
    }
    case 'xor': r = scalarUnknown(); r.varOff = tnumXor(a.varOff, b.varOff); break;
    case 'lsh': {
      const s = shiftAmount(b, 64);
      r = scalarUnknown();
      if (s === null) break;
      r.varOff = tnumLshift(a.varOff, s);
      if (a.umax << BigInt(s) <= U64) { r.umin = a.umin << BigInt(s); r.umax = a.umax << BigInt(s); }
      break;
    }
    case 'rsh': {
      const s = shiftAmount(b, 64);
      r = scalarUnknown();
      if (s === null) break;
      r.varOff = tnumRshift(a.varOff, s);
      r.umin = a.umin >> BigInt(s);
      r.umax = a.umax >> BigInt(s);
      break;
    }
    case 'arsh': {
      const s = shiftAmount(b, 64);
      r = scalarUnknown();
      if (s === null) break;
      r.varOff = tnumArshift(a.varOff, s, 64);
      r.smin = a.smin >> BigInt(s);
      r.smax = a.smax >> BigInt(s);
      break;
    }
    case 'neg':
      if (scalarIsConst(a)) return scalarConst(-scalarValue(a));
      r = scalarUnknown();
      break;
    default: r = scalarUnknown(); break;
  }
  return scalarSync(r);
}

/** The abstract result of `dst op= src` (64-bit, or 32-bit with zero extension). */
export function scalarAlu(op: AluOp, dst: Scalar, src: Scalar, is32: boolean): Scalar {
  if (!is32) return alu64(op, dst, src);
  if (op === 'mov') return scalarZext32(src);
  const a = scalarZext32(dst);
  const b = scalarZext32(src);
  if (op === 'arsh') {
    if (!scalarIsConst(a) || shiftAmount(b, 32) === null) return truncate32(scalarUnknown());
    return scalarConst(u32(BigInt.asIntN(32, scalarValue(a)) >> scalarValue(b)));
  }
  if ((op === 'lsh' || op === 'rsh') && shiftAmount(b, 32) === null) return truncate32(scalarUnknown());
  return truncate32(alu64(op, a, b));
}

export type JmpOp = 'jeq' | 'jne' | 'jgt' | 'jge' | 'jlt' | 'jle' | 'jsgt' | 'jsge' | 'jslt' | 'jsle' | 'jset';

/** The condition that holds on the fall-through side (`!(a op b)`). */
export const negateJmp: Record<JmpOp, JmpOp | null> = {
  jeq: 'jne', jne: 'jeq', jgt: 'jle', jge: 'jlt', jlt: 'jge', jle: 'jgt', jsgt: 'jsle', jsge: 'jslt', jslt: 'jsge', jsle: 'jsgt', jset: null,
};

/** `b op' a` is the same condition as `a op b`. */
const flipJmp: Record<JmpOp, JmpOp> = {
  jeq: 'jeq', jne: 'jne', jgt: 'jlt', jge: 'jle', jlt: 'jgt', jle: 'jge', jsgt: 'jslt', jsge: 'jsle', jslt: 'jsgt', jsle: 'jsge', jset: 'jset',
};

interface View { umin: bigint; umax: bigint; smin: bigint; smax: bigint; t: Tnum }

function view(s: Scalar, is32: boolean): View {
  return is32
    ? { umin: s.u32min, umax: s.u32max, smin: s.s32min, smax: s.s32max, t: tnumCast32(s.varOff) }
    : { umin: s.umin, umax: s.umax, smin: s.smin, smax: s.smax, t: s.varOff };
}

/** view(s, is32) written into `v` */
function fillView(v: View, s: Scalar, is32: boolean): View {
  if (is32) {
    v.umin = s.u32min; v.umax = s.u32max; v.smin = s.s32min; v.smax = s.s32max; v.t = tnumCast32(s.varOff);
  } else {
    v.umin = s.umin; v.umax = s.umax; v.smin = s.smin; v.smax = s.smax; v.t = s.varOff;
  }
  return v;
}

/** is_scalar_branch_taken's two views, reused: it runs at every conditional jump and keeps neither */
const TAKEN_X: View = view(scalarUnknown(), false);
const TAKEN_Y: View = view(scalarUnknown(), false);

/** is_scalar_branch_taken: 1 always, 0 never, -1 unknown. */
export function scalarBranchTaken(op: JmpOp, a: Scalar, b: Scalar, is32: boolean): 0 | 1 | -1 {
  const x = fillView(TAKEN_X, a, is32);
  const y = fillView(TAKEN_Y, b, is32);
  switch (op) {
    case 'jeq':
    case 'jne': {
      let eq: 0 | 1 | -1 = -1;
      if (tnumIsConst(x.t) && tnumIsConst(y.t)) eq = x.t.value === y.t.value ? 1 : 0;
      else if (x.umin > y.umax || x.umax < y.umin || x.smin > y.smax || x.smax < y.smin || !tnumOverlap(x.t, y.t)) eq = 0;
      if (eq === -1) return -1;
      return op === 'jeq' ? eq : (eq === 1 ? 0 : 1);
    }
    case 'jset':
      if ((x.t.value & y.t.value) !== 0n) return 1;
      if (((x.t.value | x.t.mask) & (y.t.value | y.t.mask)) === 0n) return 0;
      return -1;
    case 'jgt': return x.umin > y.umax ? 1 : x.umax <= y.umin ? 0 : -1;
    case 'jge': return x.umin >= y.umax ? 1 : x.umax < y.umin ? 0 : -1;
    case 'jsgt': return x.smin > y.smax ? 1 : x.smax <= y.smin ? 0 : -1;
    case 'jsge': return x.smin >= y.smax ? 1 : x.smax < y.smin ? 0 : -1;
    default: return scalarBranchTaken(flipJmp[op], b, a, is32);
  }
}

function setView(s: Scalar, v: View, is32: boolean): Scalar {
  const r = scalarCopy(s);
  if (is32) {
    r.u32min = v.umin; r.u32max = v.umax; r.s32min = v.smin; r.s32max = v.smax;
    r.varOff = tnumWithSubreg(r.varOff, v.t);
  } else {
    r.umin = v.umin; r.umax = v.umax; r.smin = v.smin; r.smax = v.smax; r.varOff = v.t;
  }
  return scalarSync(r);
}

/** `p` with constant `c` cut off where it is an end of p's ranges (all `!=` can narrow); p itself when c is not constant */
function cutConst(p: View, c: View, is32: boolean): View {
  if (!tnumIsConst(c.t)) return p;
  const v = c.t.value;
  const sv = is32 ? s32(v) : s64(v);
  const q = { ...p };
  if (q.umin === v && q.umin < q.umax) q.umin += 1n;
  else if (q.umax === v && q.umin < q.umax) q.umax -= 1n;
  if (q.smin === sv && q.smin < q.smax) q.smin += 1n;
  else if (q.smax === sv && q.smin < q.smax) q.smax -= 1n;
  return q;
}

/**
 * reg_set_min_max for the side where `a op b` holds: both operands narrowed. A side that cannot happen is left as it
 * is (the caller decided reachability with scalarBranchTaken). An operand not `need`ed (an immediate) is returned as
 * it is, without the bounds sync its narrowing would cost.
 */
export function scalarRefine(op: JmpOp, a: Scalar, b: Scalar, is32: boolean, needA = true, needB = true): [Scalar, Scalar] {
  const x = view(a, is32);
  const y = view(b, is32);
  switch (op) {
    case 'jeq': {
      const m: View = {
        umin: max(x.umin, y.umin), umax: min(x.umax, y.umax), smin: max(x.smin, y.smin), smax: min(x.smax, y.smax),
        t: tnumIntersect(x.t, y.t),
      };
      if (m.umin > m.umax || m.smin > m.smax) return [a, b];
      return [needA ? setView(a, m, is32) : a, needB ? setView(b, m, is32) : b];
    }
    case 'jne':
      return [needA ? setView(a, cutConst(x, y, is32), is32) : a, needB ? setView(b, cutConst(y, x, is32), is32) : b];
    case 'jgt':
    case 'jge':
    case 'jsgt':
    case 'jsge': {
      // a > b (or >=): a's lower bound rises above b's, b's upper bound falls below a's
      const d = op === 'jgt' || op === 'jsgt' ? 1n : 0n;
      const [lo, hi] = op === 'jgt' || op === 'jge' ? (['umin', 'umax'] as const) : (['smin', 'smax'] as const);
      const nx = { ...x, [lo]: max(x[lo], y[lo] + d) };
      const ny = { ...y, [hi]: min(y[hi], x[hi] - d) };
      if (nx[lo] > nx[hi] || ny[lo] > ny[hi]) return [a, b];
      return [needA ? setView(a, nx, is32) : a, needB ? setView(b, ny, is32) : b];
    }
    case 'jset': return [a, b];
    default: {
      const [rb, ra] = scalarRefine(flipJmp[op], b, a, is32, needB, needA);
      return [ra, rb];
    }
  }
}
