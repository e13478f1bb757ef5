import { describe, expect, it } from 'vitest';
import { readBtf } from '../../../../bpf/btf/readBtf.ts';
import { isRefKind, type BtfType } from '../../../../bpf/btf/kinds.ts';
import { elfSection, readElf } from '../../../../bpf/elf/readElf.ts';
import { FIXTURES, fixtureBtf, fixtureBytes, fixtureJson } from '../fixtures.ts';

/** A type as `bpftool -j btf dump file` prints it. */
function bpftoolView(t: BtfType, id: number): Record<string, unknown> {
  const base = { id, kind: t.kind, name: t.name === '' ? '(anon)' : t.name };
  if (isRefKind(t.kind)) return { ...base, type_id: (t as { type: number }).type };
  switch (t.kind) {
    case 'VOID':
      return base;
    case 'INT':
      return { ...base, size: t.size, bits_offset: t.bitsOffset, nr_bits: t.nrBits, encoding: t.encoding === 'none' ? '(none)' : t.encoding };
    case 'ARRAY':
      return { ...base, type_id: t.type, index_type_id: t.indexType, nr_elems: t.nelems };
    case 'STRUCT':
    case 'UNION':
      return {
        ...base, size: t.size, vlen: t.members.length,
        members: t.members.map((m) => ({ name: m.name === '' ? '(anon)' : m.name, type_id: m.type, bits_offset: m.bitOffset, ...(m.bitfieldSize ? { bitfield_size: m.bitfieldSize } : {}) })),
      };
    case 'ENUM':
    case 'ENUM64':
      return { ...base, encoding: t.signed ? 'SIGNED' : 'UNSIGNED', size: t.size, vlen: t.values.length, values: t.values.map((v) => ({ name: v.name, val: Number(v.val) })) };
    case 'FWD':
      return { ...base, fwd_kind: t.fwdKind };
    case 'FUNC':
      return { ...base, type_id: t.type, linkage: t.linkage };
    case 'FUNC_PROTO':
      return { ...base, ret_type_id: t.returnType, vlen: t.params.length, params: t.params.map((p) => ({ name: p.name === '' ? '(anon)' : p.name, type_id: p.type })) };
    case 'VAR':
      return { ...base, type_id: t.type, linkage: t.linkage };
    case 'DATASEC':
      return { ...base, size: t.size, vlen: t.vars.length, vars: t.vars.map((v) => ({ type_id: v.type, offset: v.offset, size: v.size })) };
    case 'FLOAT':
      return { ...base, size: t.size };
    case 'DECL_TAG':
      return { ...base, type_id: t.type, component_idx: t.componentIdx };
  }
}

describe('readBtf', () => {
  it.each(FIXTURES)('should read every type of %s as bpftool does', (name) => {
    const btf = fixtureBtf(name);
    const expected = (fixtureJson(`${name}.btf.json`) as { types: unknown[] }).types;
    expect(btf.types.slice(1).map((t, i) => bpftoolView(t, i + 1))).toEqual(expected);
  });

  it('should read all 19 kinds clang-16 emits', () => {
    expect(new Set(fixtureBtf('formats').types.map((t) => t.kind)).size).toBe(20); // + VOID
  });

  it('should refuse a truncated or corrupt section with the offset where it broke', () => {
    const bytes = elfSection(readElf(fixtureBytes('formats')), '.BTF')!.bytes;
    expect(() => readBtf(bytes.subarray(0, 10))).toThrow(/^\.BTF\+0: 10 bytes is too short/);
    const badMagic = bytes.slice();
    badMagic[0] = 0;
    expect(() => readBtf(badMagic)).toThrow(expect.objectContaining({ code: 'KPTR_OBJECT_MALFORMED', section: '.BTF', offset: 0 }));
    const badKind = bytes.slice();
    badKind[24 + 7] = 0x1f; // first record's info: kind 31
    expect(() => readBtf(badKind)).toThrow(/\.BTF\+28: type \[1\] has unknown kind 31/);
  });
});
