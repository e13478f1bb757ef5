import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateValues, shrinkBatched, valueAt } from '../../../campaign/shrink.ts';

const arb = fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 20 });
/** The "mismatch": some element above 500. Shrunk, one element is 501 and any other is 0. */
const fails = (xs: readonly number[]): boolean => xs.some((x) => x > 500);
const start = (): fc.Value<number[]> => [...generateValues(arb, 3, 200)].find((v) => fails(v.value_) && v.value_.length > 3)!;

describe('shrinkBatched', () => {
  it('should shrink as far as fast-check\'s shrinker goes, asking in batches of the given size', async () => {
    const sizes: number[] = [];
    const r = await shrinkBatched(arb, start(), async (cs) => { sizes.push(cs.length); return cs.map(fails); },
      { batchSize: 8, maxSteps: 1000, maxChecks: 100_000, maxRounds: 1000 });
    expect(r.value.filter((x) => x !== 0)).toEqual([501]);
    expect(r.value.length).toBeLessThan(start().value_.length);
    expect(Math.max(...sizes)).toBe(8);
    expect(r.checks).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(r.path.split(':')).toHaveLength(r.steps);
  });

  it('should stop after maxRounds round trips with the smallest failing value found so far', async () => {
    let rounds = 0;
    const r = await shrinkBatched(arb, start(), async (cs) => { rounds++; return cs.map(fails); },
      { batchSize: 2, maxSteps: 1000, maxChecks: 100_000, maxRounds: 3 });
    expect(rounds).toBe(3);
    expect(fails(r.value)).toBe(true);
  });
});

describe('shrinkBatched stopped by a signal', () => {
  it('should return the last value known to fail, marked interrupted, when a check is cut short', async () => {
    const stop = new AbortController();
    let rounds = 0;
    let lastKept: number[] | null = null;
    const r = await shrinkBatched(arb, start(), async (cs) => {
      if (++rounds === 3) {
        stop.abort();
        throw new Error('killed with the run');
      }
      const verdicts = cs.map(fails);
      const hit = verdicts.findIndex(Boolean);
      if (hit >= 0) lastKept = cs[hit]!;
      return verdicts;
    }, { batchSize: 2, maxSteps: 1000, maxChecks: 100_000, maxRounds: 1000, signal: stop.signal });
    expect(r.interrupted).toBe(true);
    expect(rounds).toBe(3);
    expect(r.value).toEqual(lastKept ?? start().value_);
    expect(fails(r.value)).toBe(true);
  });

  it('should rethrow a failed check when no signal stopped it', async () => {
    await expect(shrinkBatched(arb, start(), async () => { throw new Error('harness missing'); },
      { batchSize: 2, maxSteps: 10, maxChecks: 100, maxRounds: 10, signal: new AbortController().signal })).rejects.toThrow('harness missing');
  });
});

describe('generateValues / valueAt', () => {
  it('should give value i of a seed again on its own (replay by seed and index)', () => {
    const all = [...generateValues(arb, 42, 30)];
    expect(valueAt(arb, 42, 17).value_).toEqual(all[17]!.value_);
  });
});
