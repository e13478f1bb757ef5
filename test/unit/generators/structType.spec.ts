import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scalarFieldPaths, structSize } from '../../../generators/_internals/structLayout.ts';
import { structType } from '../../../generators/structType.ts';
import type { StructType } from '../../../types/index.ts';

const SEED = 20261125;

describe('structSize / scalarFieldPaths', () => {
  const inner: StructType = { name: 'in0', members: [{ kind: 'scalar', name: 'x', ctype: 'char', count: null }, { kind: 'scalar', name: 'y', ctype: 'int', count: null }] };
  const outer: StructType = { name: 't0', members: [
    { kind: 'scalar', name: 'a', ctype: 'char', count: null },
    { kind: 'struct', name: 'in', struct: 'in0', count: 2 },
    { kind: 'scalar', name: 'b', ctype: 'long', count: 3 },
  ] };
  it('lays structs out like clang -target bpf (val_t = 24, padding, nested arrays)', () => {
    expect(structSize([{ name: 'val_t', members: ['b', 'c', 'd'].map((n) => ({ kind: 'scalar' as const, name: n, ctype: 'long' as const, count: null })) }], 'val_t')).toBe(24);
    expect(structSize([inner], 'in0')).toBe(8);
    expect(structSize([inner, outer], 't0')).toBe(48); // 1 + pad 3 + 16 + pad 4 + 24
  });
  it('names first and last array elements and nested members', () => {
    expect(scalarFieldPaths([inner, outer], 't0').map((f) => f.path)).toEqual(['a', 'in[0].x', 'in[0].y', 'in[1].x', 'in[1].y', 'b[0]', 'b[2]']);
  });
});

describe('structType()', () => {
  it('small structs are scalar-only and non-empty', () => {
    fc.assert(fc.property(structType({ name: 't0' }), (t) => {
      expect(t.members.length).toBeGreaterThan(0);
      expect(t.members.every((m) => m.kind === 'scalar')).toBe(true);
      expect(new Set(t.members.map((m) => m.name)).size).toBe(t.members.length);
    }), { seed: SEED, numRuns: 300 });
  });
  for (const size of [512, 513, 520, 600]) {
    it(`exact size ${size} via arrays`, () => {
      fc.assert(fc.property(structType({ name: 't0', size }), (t) => {
        expect(structSize([t], 't0')).toBe(size);
      }), { seed: SEED, numRuns: 100 });
    });
  }
  it('adds exactly one refused member when asked', () => {
    const holder: StructType = { name: 'in1', members: [{ kind: 'spin_lock', name: 'l' }] };
    for (const special of ['pointer', 'spin_lock', 'kptr'] as const) {
      fc.assert(fc.property(structType({ name: 't2', special, kptrPointee: 't0' }), (t) => {
        expect(t.members.filter((m) => m.kind === special)).toHaveLength(1);
      }), { seed: SEED, numRuns: 50 });
    }
    fc.assert(fc.property(structType({ name: 't2', special: 'nested_spin_lock', nestable: [holder] }), (t) => {
      expect(t.members.filter((m) => m.kind === 'struct' && m.struct === 'in1')).toHaveLength(1);
    }), { seed: SEED, numRuns: 50 });
    expect(() => structType({ name: 't2', special: 'nested_spin_lock' })).toThrow(/needs a nestable struct/);
  });
});
