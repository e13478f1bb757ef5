import { describe, expect, it } from 'vitest';
import { packBatches } from '../../../../compile/codegen/packBatches.ts';
import type { Scenario } from '../../../../types/index.ts';
import { handScenario } from './scenarios.fixture.ts';

const ids = (batches: Scenario[][]): string[][] => batches.map((b) => b.map((s) => s.id));
const withLicense = (s: Scenario, license: Scenario['programs'][number]['license']): Scenario => ({
  ...s,
  programs: s.programs.map((p) => ({ ...p, license })),
});

describe('packBatches', () => {
  it('should pack greedily in order up to maxPerBatch', () => {
    const scenarios = Array.from({ length: 5 }, (_, i) => handScenario(i));
    expect(ids(packBatches(scenarios, 2))).toEqual([['h0', 'h1'], ['h2', 'h3'], ['h4']]);
    expect(ids(packBatches(scenarios, 10))).toEqual([['h0', 'h1', 'h2', 'h3', 'h4']]);
    expect(packBatches([], 3)).toEqual([]);
  });

  it('should start a new batch on an identifier collision', () => {
    const again: Scenario = { ...handScenario(1), id: 'h1_again' };
    expect(ids(packBatches([handScenario(0), handScenario(1), again, handScenario(2)], 10))).toEqual([
      ['h0', 'h1'],
      ['h1_again', 'h2'],
    ]);
  });

  it('should keep one batch per license open, so interleaved licenses do not split batches', () => {
    const scenarios = [handScenario(0), withLicense(handScenario(1), 'Proprietary'), handScenario(2), withLicense(handScenario(3), 'Proprietary'), handScenario(4)];
    expect(ids(packBatches(scenarios, 10))).toEqual([['h0', 'h2', 'h4'], ['h1', 'h3']]);
  });

  it('should batch scenarios with cgroup storage with the others (the object writer writes them too)', () => {
    const cgrp = (s: Scenario): Scenario => ({ ...s, slots: s.slots.map((x, i) => (i === 0 ? { ...x, home: { kind: 'cgrp_storage' as const } } : x)) });
    const scenarios = [handScenario(0), cgrp(handScenario(1)), handScenario(2), cgrp(handScenario(3))];
    expect(ids(packBatches(scenarios, 10))).toEqual([['h0', 'h1', 'h2', 'h3']]);
  });

  it('should close only the full batch of a license and emit batches in the order they close', () => {
    const scenarios = [handScenario(0), withLicense(handScenario(1), 'Proprietary'), handScenario(2), handScenario(3)];
    expect(ids(packBatches(scenarios, 2))).toEqual([['h0', 'h2'], ['h1'], ['h3']]);
  });

  it('should refuse a batch size below one', () => {
    expect(() => packBatches([handScenario(0)], 0)).toThrow(RangeError);
  });
});
