import { describe, expect, it } from 'vitest';
import { findType } from '../../../../bpf/btf/findType.ts';
import { skipModifiers } from '../../../../bpf/btf/skipModifiers.ts';
import { cTypeName, typeName } from '../../../../bpf/btf/typeName.ts';
import { typeSize } from '../../../../bpf/btf/typeSize.ts';
import { walkMembers } from '../../../../bpf/btf/walkMembers.ts';
import type { BtfTypeOf } from '../../../../bpf/btf/kinds.ts';
import { fixtureBtf } from '../fixtures.ts';

// formats.bpf.c's `struct kinds`, as clang-16 lays it out
describe('BTF helpers', () => {
  const btf = fixtureBtf('formats');
  const kinds = findType(btf, 'kinds', 'STRUCT')!;
  const member = (name: string): number => (btf.types[kinds] as BtfTypeOf<'STRUCT'>).members.find((m) => m.name === name)!.type;

  it('should find named types, by kind when asked', () => {
    expect(typeName(btf, kinds)).toBe('kinds');
    expect(findType(btf, 'u_fwd')).toBe(findType(btf, 'u_fwd', 'FWD'));
    expect(findType(btf, 'kinds', 'UNION')).toBeNull();
    expect(findType(btf, '')).toBeNull();
  });

  it('should skip const, volatile, type tags and typedefs, and keep typedefs when asked', () => {
    const cv = member('cv');
    expect(btf.types[skipModifiers(btf, cv)]).toMatchObject({ kind: 'INT', name: 'unsigned int' });
    expect(btf.types[skipModifiers(btf, cv, { typedefs: false })]).toMatchObject({ kind: 'TYPEDEF', name: 'u32_t' });
    const sf = btf.types[member('sf')] as BtfTypeOf<'PTR'>;
    expect(btf.types[skipModifiers(btf, sf.type)]).toMatchObject({ kind: 'FWD', name: 's_fwd' });
    expect(() => skipModifiers(btf, 10_000)).toThrow(RangeError);
  });

  it('should size types as the kernel does, and refuse to size incomplete ones', () => {
    expect(typeSize(btf, kinds)).toBe(88);
    expect(typeSize(btf, member('arr'))).toBe(6);
    expect(typeSize(btf, member('cv'))).toBe(4);
    expect(typeSize(btf, member('sf'))).toBe(8);
    expect(typeSize(btf, findType(btf, 'u_fwd')!)).toBeNull();
    expect(typeSize(btf, findType(btf, 'isa', 'FUNC')!)).toBeNull();
    expect(typeSize(btf, findType(btf, 'g_kinds', 'VAR')!)).toBe(88);
  });

  it('should walk members depth first with offsets from the outer struct and bitfield sizes', () => {
    expect(walkMembers(btf, kinds).map((m) => [m.path, m.bitOffset, m.bitfieldSize])).toEqual([
      ['a', 0, 3], ['b', 3, 13], ['c', 64, 0], ['', 128, 0], ['d', 128, 0], ['e', 128, 0], ['color', 160, 0], ['big', 192, 0],
      ['f', 256, 0], ['g', 320, 0], ['cv', 384, 0], ['uf', 448, 0], ['sf', 512, 0], ['arr', 576, 0], ['tagged', 640, 0],
    ]);
    const mapDef = btf.types[skipModifiers(btf, (btf.types[findType(btf, 'values', 'VAR')!] as BtfTypeOf<'VAR'>).type)]!;
    expect(mapDef.kind).toBe('STRUCT');
  });

  it('should print types as C spells them', () => {
    expect(cTypeName(btf, kinds)).toBe('struct kinds');
    expect(cTypeName(btf, member('cv'))).toBe('const volatile u32_t');
    expect(cTypeName(btf, member('uf'))).toBe('union u_fwd *');
    expect(cTypeName(btf, member('sf'))).toBe('struct s_fwd __attribute__((btf_type_tag("kptr"))) *');
    expect(cTypeName(btf, member('arr'))).toBe('char [3][2]');
    expect(cTypeName(btf, member('color'))).toBe('enum color');
    const mapDef = btf.types[(btf.types[findType(btf, 'values', 'VAR')!] as BtfTypeOf<'VAR'>).type] as BtfTypeOf<'STRUCT'>;
    expect(mapDef.members.map((m) => cTypeName(btf, m.type))).toEqual(['int (*)[2]', 'int (*)[1]', 'int *', '__u64 *']);
    expect(cTypeName(btf, findType(btf, 'isa', 'FUNC')!)).toBe('int (void *)');
    expect(cTypeName(btf, findType(btf, 'sub', 'FUNC')!)).toBe('int (int *restrict, int)');
  });
});
