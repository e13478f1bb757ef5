import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scenario } from '../../../generators/scenario.ts';
import { generateValues, valueAt } from '../../../campaign/shrink.ts';
import { shardRuns } from '../../../cli/commands/campaign.ts';

describe('the seed stream: value i of seed S is a function of (S, i)', () => {
  const arb = scenario({ mode: 'mixed', progTypes: ['tc', 'syscall'], nrCpus: 2 });
  const walk = [...generateValues(arb, 77, 40)].map((v) => v.value_);

  it('should give value i alone, in any order, what a walk from the seed\'s start gives', () => {
    const order = fc.sample(fc.shuffledSubarray([...walk.keys()], { minLength: walk.length }), { numRuns: 1, seed: 3 })[0]!;
    expect(order).not.toEqual([...walk.keys()]);
    const drawn = new Map(order.map((i) => [i, valueAt(arb, 77, i).value_]));
    expect([...walk.keys()].map((i) => drawn.get(i))).toEqual(walk);
  });

  it('should give shards k/n, each drawing only the indices it runs, exactly the unsharded values together', () => {
    for (const n of [2, 3]) {
      const byIndex = new Map<number, unknown>();
      for (let k = 1; k <= n; k++) {
        for (let i = 0; i < walk.length; i++) if (shardRuns({ k, n }, i)) byIndex.set(i, valueAt(arb, 77, i).value_);
      }
      expect([...byIndex.keys()].sort((a, b) => a - b).map((i) => byIndex.get(i))).toEqual(walk);
    }
  });

  it('should continue after a checkpoint (an index) with the values the campaign in one go has there', () => {
    const resumed = JSON.parse(JSON.stringify({ next: 17 })) as { next: number };
    expect(Array.from({ length: walk.length - resumed.next }, (_, j) => valueAt(arb, 77, resumed.next + j).value_)).toEqual(walk.slice(17));
  });

  it('should give other seeds and neighbouring indices other values, and biased ones early as fast-check does', () => {
    const draws = (arb: fc.Arbitrary<number>, seed: number, count: number): number[] => [...generateValues(arb, seed, count)].map((v) => v.value_);
    const ints = fc.noBias(fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }));
    const one = draws(ints, 1, 2000);
    expect(new Set(one).size).toBeGreaterThan(1995);
    // seeds next to each other share nothing (each value's state is mixed from the seed and the index)
    const two = draws(ints, 2, 2000);
    expect(two.filter((x) => one.includes(x)).length).toBeLessThan(5);
    // fast-check's bias: the first values of a seed lean to small ones, as its runner's first runs do
    const biased = fc.integer({ min: -1_000_000_000, max: 1_000_000_000 });
    const small = (xs: number[]): number => xs.filter((x) => Math.abs(x) <= 1000).length;
    expect(small(draws(biased, 5, 100))).toBeGreaterThan(small(draws(biased, 5, 100_000).slice(-100)));
  });
});
