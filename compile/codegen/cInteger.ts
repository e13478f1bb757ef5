import type { ScalarCType } from '../../types/index.ts';

const RANGES: Readonly<Record<ScalarCType, readonly [bigint, bigint]>> = {
  // char's signedness is the target's choice: only the range both agree on is written bare
  char: [0n, 127n],
  __s8: [-(2n ** 7n), 2n ** 7n - 1n],
  __u8: [0n, 2n ** 8n - 1n],
  short: [-(2n ** 15n), 2n ** 15n - 1n],
  __s16: [-(2n ** 15n), 2n ** 15n - 1n],
  __u16: [0n, 2n ** 16n - 1n],
  int: [-(2n ** 31n), 2n ** 31n - 1n],
  __s32: [-(2n ** 31n), 2n ** 31n - 1n],
  __u32: [0n, 2n ** 32n - 1n],
  long: [-(2n ** 63n), 2n ** 63n - 1n],
  __s64: [-(2n ** 63n), 2n ** 63n - 1n],
  __u64: [0n, 2n ** 64n - 1n],
};

const INT_MAX = 2n ** 31n - 1n;
const INT64_MIN = -(2n ** 63n);

/** The decimal integer `value` as 64 bits' worth, or null when it is not one within [-2^63, 2^64). */
export function parseCInteger(value: string): bigint | null {
  if (!/^-?\d+$/.test(value)) return null;
  const v = BigInt(value);
  return v < INT64_MIN || v > 2n ** 64n - 1n ? null : v;
}

/**
 * A C expression for the decimal `value` stored into a `ctype` lvalue. Values the type holds are
 * written as literals with the suffix their size needs (`ULL`/`LL` beyond int); values it does not
 * hold get an explicit cast, so clang's -Wconstant-conversion stays quiet and the truncation is
 * visible in the source. Returns null when `value` is not a decimal integer within [-2^63, 2^64).
 */
export function cInteger(value: string, ctype: ScalarCType): string | null {
  const v = parseCInteger(value);
  if (v === null) return null;
  const [min, max] = RANGES[ctype];
  const literal = integerLiteral(v);
  return v >= min && v <= max ? literal : `(${ctype})${literal}`;
}

function integerLiteral(v: bigint): string {
  if (v === INT64_MIN) return '(-9223372036854775807LL - 1)';
  if (v >= -INT_MAX && v <= INT_MAX) return v.toString();
  return v > 0n ? `${v}ULL` : `${v}LL`;
}
