import { scalarSigned, scalarSize } from '../../cabi/structLayout.ts';
import type { ScalarCType } from '../../types/index.ts';

/** The value C stores when `v` is converted to `ctype` (two's complement truncation, then the type's signedness). */
export function cValue(v: bigint, ctype: ScalarCType): bigint {
  const bits = 8 * scalarSize(ctype);
  return scalarSigned(ctype) ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v);
}
