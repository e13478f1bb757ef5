import type { DatasecVar } from '../loader/objectSpec.ts';

/**
 * A global's value as the harness prints it (runners/native/harness.c format_value): the C value of a 1/2/4/8-byte
 * integer as a decimal string, signed when its BTF type is; null for any other size.
 */
export function readGlobal(value: Uint8Array, v: DatasecVar): string | null {
  if (v.offset + v.size > value.length) return null;
  const view = new DataView(value.buffer, value.byteOffset + v.offset, v.size);
  const signed = v.signed === true;
  switch (v.size) {
    case 1: return String(signed ? view.getInt8(0) : view.getUint8(0));
    case 2: return String(signed ? view.getInt16(0, true) : view.getUint16(0, true));
    case 4: return String(signed ? view.getInt32(0, true) : view.getUint32(0, true));
    case 8: return String(signed ? view.getBigInt64(0, true) : view.getBigUint64(0, true));
    default: return null;
  }
}
