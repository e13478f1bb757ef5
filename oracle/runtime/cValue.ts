import type { ScalarCType } from '../../types/index.ts';

const WIDTH: Readonly<Record<ScalarCType, readonly [bits: number, signed: boolean]>> = {
  // char is signed on the BPF target
  char: [8, true], short: [16, true], int: [32, true], long: [64, true],
  __u8: [8, false], __u16: [16, false], __u32: [32, false], __u64: [64, false],
  __s8: [8, true], __s16: [16, true], __s32: [32, true], __s64: [64, true],
};

/** The value C stores when `v` is converted to `ctype` (two's complement truncation, then the type's signedness). */
export function cValue(v: bigint, ctype: ScalarCType): bigint {
  const [bits, signed] = WIDTH[ctype];
  return signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v);
}
