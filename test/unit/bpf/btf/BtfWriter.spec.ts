import { describe, expect, it } from 'vitest';
import { BtfWriter } from '../../../../bpf/btf/BtfWriter.ts';
import { readBtf } from '../../../../bpf/btf/readBtf.ts';
import type { BtfTypeOf } from '../../../../bpf/btf/kinds.ts';

describe('BtfWriter', () => {
  it('should encode a header the kernel accepts: magic 0xeb9f, version 1, 24-byte header, strings after the types', () => {
    const w = new BtfWriter();
    w.int('int', 4, true);
    const bytes = w.encode();
    const v = new DataView(bytes.buffer);
    expect([v.getUint16(0, true), v.getUint8(2), v.getUint32(4, true)]).toEqual([0xeb9f, 1, 24]);
    // INT 'int': name, info (kind 1 << 24), size 4, then BTF_INT_SIGNED << 24 | 32 bits
    expect([1, 2, 3, 4].map((i) => v.getUint32(20 + i * 4, true))).toEqual([1, 1 << 24, 4, (1 << 24) | 32]);
    expect(readBtf(bytes).types).toEqual([{ kind: 'VOID', name: '' }, { kind: 'INT', name: 'int', size: 4, bitsOffset: 0, nrBits: 32, encoding: 'SIGNED' }]);
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
    const { types } = readBtf(w.encode());
    expect(types[a]).toEqual({ kind: 'STRUCT', name: 'a', size: 8, kflag: false, members: [{ name: 'p', type: pb, bitOffset: 0, bitfieldSize: 0 }] });
    expect(types[(types[pb] as BtfTypeOf<'PTR'>).type]).toEqual({ kind: 'TYPE_TAG', name: 'percpu_kptr', type: b });
    expect(() => w.defineStruct(pb, 'c', 1, [])).toThrow(/not a reserved struct/);
  });

  it('should read back every kind it writes', () => {
    const w = new BtfWriter();
    const int = w.int('int', 4, true);
    const u64 = w.typedef('__u64', w.int('unsigned long long', 8, false));
    const cv = w.const(w.volatile(u64));
    const arr = w.array(int, 3);
    const s = w.struct('s', 16, [{ name: 'a', type: arr, bitOffset: 0 }]);
    const proto = w.funcProto(int, [{ name: 'ctx', type: w.ptr(0) }]);
    const f = w.func('prog', proto, 'global');
    const ext = w.func('kf', w.funcProto(0, []), 'extern');
    const v = w.variable('x', cv, 'global');
    const sec = w.datasec('.rodata', 8, [{ type: v, offset: 0, size: 8 }]);
    const { types } = readBtf(w.encode());
    expect(types[cv]).toEqual({ kind: 'CONST', name: '', type: cv - 1 });
    expect(types[cv - 1]).toEqual({ kind: 'VOLATILE', name: '', type: u64 });
    expect(types[arr]).toEqual({ kind: 'ARRAY', name: '', type: int, indexType: arr - 1, nelems: 3 });
    expect(types[arr - 1]).toEqual({ kind: 'INT', name: '__ARRAY_SIZE_TYPE__', size: 4, bitsOffset: 0, nrBits: 32, encoding: 'none' });
    expect(types[s]).toMatchObject({ kind: 'STRUCT', name: 's', size: 16 });
    expect(types[proto]).toEqual({ kind: 'FUNC_PROTO', name: '', returnType: int, params: [{ name: 'ctx', type: proto - 1 }] });
    expect(types[f]).toEqual({ kind: 'FUNC', name: 'prog', type: proto, linkage: 'global' });
    expect(types[ext]).toMatchObject({ kind: 'FUNC', name: 'kf', linkage: 'extern' });
    expect(types[v]).toEqual({ kind: 'VAR', name: 'x', type: cv, linkage: 'global' });
    expect(types[sec]).toEqual({ kind: 'DATASEC', name: '.rodata', size: 8, vars: [{ type: v, offset: 0, size: 8 }] });
  });
});
