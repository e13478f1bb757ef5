import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { opSequence } from '../../../generators/opSequence.ts';
import { checkScenarioRefs } from '../../../specs/scenarioSchema.ts';
import type { Scenario, Slot, StructType } from '../../../types/index.ts';
import { programProblems } from './wellFormed.ts';

const valT: StructType = { name: 'val_t', members: ['b', 'c', 'd'].map((n) => ({ kind: 'scalar' as const, name: n, ctype: 'long' as const, count: null })) };
const locked: StructType = { name: 'locked_t', members: [{ kind: 'spin_lock', name: 'l' }] };
const slot: Slot = { name: 'array', home: { kind: 'map', mapType: 'array' }, pointee: 'val_t', tag: 'percpu_kptr' };

describe('opSequence()', () => {
  it('builds well-formed programs over given structs and slots, never allocating a refused struct', () => {
    fc.assert(fc.property(opSequence({ structs: [valT, locked], slots: [slot], nrCpus: 1, firstGlobal: 3 }), ({ program, globals }) => {
      const s: Scenario = { id: 'x', description: '', origin: null, intent: { kind: 'valid' }, structs: [valT, locked], slots: [slot], globals, programs: [program], schedule: [] };
      expect(checkScenarioRefs(s)).toEqual([]);
      expect(programProblems(s, program, 1)).toEqual([]);
      for (const g of globals) expect(Number(g.name.slice(1))).toBeGreaterThanOrEqual(3);
    }), { seed: 20261125, numRuns: 500 });
  });
});
