/**
 * Tristate numbers (kernel/bpf/tnum.c): a 64-bit value whose bits are known 0, known 1 or unknown (`mask` bit set).
 * Every operation over-approximates the set of concrete results, as the kernel's does.
 */
export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

export const U64 = (1n << 64n) - 1n;
export const U32 = (1n << 32n) - 1n;

export const tnumConst = (v: bigint): Tnum => ({ value: BigInt.asUintN(64, v), mask: 0n });
export const TNUM_UNKNOWN: Tnum = { value: 0n, mask: U64 };

/** The tightest tnum holding every value of [min, max] (tnum_range). */
export function tnumRange(min: bigint, max: bigint): Tnum {
  const chi = min ^ max;
  // the bit length of chi from its two 32-bit halves (chi.toString(2) made a string at every bounds sync)
  const hi = chi >= 0n && chi <= U64 ? Number(chi >> 32n) : -1;
  const bits = hi < 0 ? chi.toString(2).length : hi !== 0 ? 64 - Math.clz32(hi) : 32 - Math.clz32(Number(chi & U32));
  if (bits > 63) return TNUM_UNKNOWN;
  const delta = (1n << BigInt(bits)) - 1n;
  return { value: min & ~delta & U64, mask: delta };
}

export const tnumIsConst = (a: Tnum): boolean => a.mask === 0n;

export function tnumAdd(a: Tnum, b: Tnum): Tnum {
  const sm = (a.mask + b.mask) & U64;
  const sv = (a.value + b.value) & U64;
  const sigma = (sm + sv) & U64;
  const chi = sigma ^ sv;
  const mu = chi | a.mask | b.mask;
  return { value: sv & ~mu & U64, mask: mu };
}

export function tnumSub(a: Tnum, b: Tnum): Tnum {
  const dv = BigInt.asUintN(64, a.value - b.value);
  const alpha = (dv + a.mask) & U64;
  const beta = BigInt.asUintN(64, dv - b.mask);
  const chi = alpha ^ beta;
  const mu = chi | a.mask | b.mask;
  return { value: dv & ~mu & U64, mask: mu };
}

export function tnumAnd(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask;
  const beta = b.value | b.mask;
  const v = a.value & b.value;
  return { value: v, mask: alpha & beta & ~v & U64 };
}

export function tnumOr(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask | b.mask;
  return { value: v, mask: mu & ~v & U64 };
}

export function tnumXor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return { value: v & ~mu & U64, mask: mu };
}

export const tnumLshift = (a: Tnum, s: number): Tnum => ({ value: (a.value << BigInt(s)) & U64, mask: (a.mask << BigInt(s)) & U64 });
export const tnumRshift = (a: Tnum, s: number): Tnum => ({ value: a.value >> BigInt(s), mask: a.mask >> BigInt(s) });

/** Arithmetic right shift of a `bits`-wide value (tnum_arshift); the result is zero-extended to 64 bits. */
export function tnumArshift(a: Tnum, s: number, bits: 32 | 64): Tnum {
  const n = BigInt(bits);
  const sh = BigInt(s);
  return {
    value: BigInt.asUintN(bits, BigInt.asIntN(bits, a.value & ((1n << n) - 1n)) >> sh),
    mask: BigInt.asUintN(bits, BigInt.asIntN(bits, a.mask & ((1n << n) - 1n)) >> sh),
  };
}

/** tnum_mul: half-multiply-add over the bits of `a`. */
export function tnumMul(a: Tnum, b: Tnum): Tnum {
  const accV = (a.value * b.value) & U64;
  let accM: Tnum = { value: 0n, mask: 0n };
  let x = a;
  let y = b;
  while (x.value !== 0n || x.mask !== 0n) {
    if ((x.value & 1n) !== 0n) accM = tnumAdd(accM, { value: 0n, mask: y.mask });
    else if ((x.mask & 1n) !== 0n) accM = tnumAdd(accM, { value: 0n, mask: y.value | y.mask });
    x = tnumRshift(x, 1);
    y = tnumLshift(y, 1);
  }
  return tnumAdd({ value: accV, mask: 0n }, accM);
}

export function tnumIntersect(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask & b.mask;
  return { value: v & ~mu & U64, mask: mu };
}

/** Whether some value belongs to both. */
export const tnumOverlap = (a: Tnum, b: Tnum): boolean => ((a.value ^ b.value) & ~(a.mask | b.mask)) === 0n;

export const tnumCast32 = (a: Tnum): Tnum => ({ value: a.value & U32, mask: a.mask & U32 });
export const tnumClearSubreg = (a: Tnum): Tnum => ({ value: a.value & ~U32 & U64, mask: a.mask & ~U32 & U64 });
export const tnumWithSubreg = (a: Tnum, sub: Tnum): Tnum => tnumOr(tnumClearSubreg(a), tnumCast32(sub));

export const tnumContains = (a: Tnum, v: bigint): boolean => (BigInt.asUintN(64, v) & ~a.mask) === a.value;
