import { describe, expect, it } from 'vitest';
import { BtfWriter } from '../../../../runners/object/btf.ts';

/** The header and the type records of an encoded .BTF, words as written. */
function decode(bytes: Uint8Array) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [typeLen, strOff, strLen] = [v.getUint32(12, true), v.getUint32(16, true), v.getUint32(20, true)];
  const words = Array.from({ length: typeLen / 4 }, (_, i) => v.getUint32(24 + i * 4, true));
  const str = (off: number): string => {
    const start = 24 + strOff + off;
    return Buffer.from(bytes.subarray(start, bytes.indexOf(0, start))).toString();
  };
  return { magic: v.getUint16(0, true), version: v.getUint8(2), hdrLen: v.getUint32(4, true), words, str, total: 24 + strOff + strLen };
}

describe('BtfWriter', () => {
  it('should encode a header the kernel accepts: magic 0xeb9f, version 1, 24-byte header, strings after the types', () => {
    const w = new BtfWriter();
    w.int('int', 4, true);
    const d = decode(w.encode());
    expect([d.magic, d.version, d.hdrLen]).toEqual([0xeb9f, 1, 24]);
    expect(d.total).toBe(w.encode().length);
    // INT 'int': name, info (kind 1 << 24), size 4, then BTF_INT_SIGNED << 24 | 32 bits
    expect(d.words).toEqual([1, 1 << 24, 4, (1 << 24) | 32]);
    expect(d.str(d.words[0]!)).toBe('int');
  });

  it('should number types from 1 in order and share equal anonymous ones', () => {
    const w = new BtfWriter();
    const int = w.int('int', 4, true);
    const p1 = w.ptr(int);
    expect([int, p1, w.ptr(int), w.typedef('__s32', int), w.typedef('__s32', int)]).toEqual([1, 2, 2, 3, 3]);
  });

  it('should let a struct be reserved first and defined later, so members may point to structs defined after them', () => {
    const w = new BtfWriter();
    const a = w.reserveStruct();
    const b = w.reserveStruct();
    const pb = w.ptr(w.typeTag('percpu_kptr', b));
    w.defineStruct(a, 'a', 8, [{ name: 'p', type: pb, bitOffset: 0 }]);
    w.defineStruct(b, 'b', 4, [{ name: 'x', type: w.int('int', 4, true), bitOffset: 0 }]);
    const d = decode(w.encode());
    // STRUCT 'a' (kind 4, vlen 1, size 8) with member p at bit 0, first in the type section
    expect(d.str(d.words[0]!)).toBe('a');
    expect(d.words.slice(1, 6)).toEqual([(4 << 24) | 1, 8, d.words[3], pb, 0]);
    expect(() => w.defineStruct(pb, 'c', 1, [])).toThrow(/not a reserved struct/);
  });
});
