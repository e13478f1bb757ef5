import { describe, expect, it } from 'vitest';
import { splitLanes } from '../../../../runners/vm/lanes.ts';
import type { Scenario } from '../../../../types/index.ts';

const batch = (name: string, n: number): Scenario[] => Array.from({ length: n }, (_, i) => ({ id: `${name}${i}` }) as Scenario);
const ids = (lanes: Scenario[][]): string[][] => lanes.map((l) => l.map((s) => s.id));

describe('splitLanes', () => {
  it('should keep each batch whole in one lane and give the next batch to the lightest lane', () => {
    expect(ids(splitLanes([batch('a', 3), batch('b', 1), batch('c', 1), batch('d', 2)], 2))).toEqual([
      ['a0', 'a1', 'a2'],
      ['b0', 'c0', 'd0', 'd1'],
    ]);
  });

  it('should keep batch order within a lane, so expected-splat batches listed last stay last', () => {
    const lanes = splitLanes([batch('a', 2), batch('b', 2), batch('splat', 1)], 2);
    expect(ids(lanes)).toEqual([['a0', 'a1', 'splat0'], ['b0', 'b1']]);
  });

  it('should use no more lanes than batches, and one lane when asked for none', () => {
    expect(splitLanes([batch('a', 5)], 4)).toHaveLength(1);
    expect(ids(splitLanes([batch('a', 1), batch('b', 1)], 0))).toEqual([['a0', 'b0']]);
    expect(splitLanes([], 2)).toEqual([]);
  });
});
