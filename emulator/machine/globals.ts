import type { DatasecVar } from '../loader/objectSpec.ts';

/**
 * A global's value as the harness prints it (runners/native/harness.c format_value): the C value of a 1/2/4/8-byte
 * integer as a decimal string, signed when its BTF type is; null for any other size. `base` is the value's offset
 * in `view`.
 */
export function readGlobal(view: DataView, base: number, v: DatasecVar): string | null {
  const at = base + v.offset;
  const signed = v.signed === true;
  switch (v.size) {
    case 1: return String(signed ? view.getInt8(at) : view.getUint8(at));
    case 2: return String(signed ? view.getInt16(at, true) : view.getUint16(at, true));
    case 4: return String(signed ? view.getInt32(at, true) : view.getUint32(at, true));
    case 8: {
      // exact as a Number below 2^53; BigInt only past it
      const lo = view.getUint32(at, true);
      const hi = signed ? view.getInt32(at + 4, true) : view.getUint32(at + 4, true);
      if (hi >= -0x200000 && hi < 0x200000) return String(hi * 0x100000000 + lo);
      return String(signed ? view.getBigInt64(at, true) : view.getBigUint64(at, true));
    }
    default: return null;
  }
}
