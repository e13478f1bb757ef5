/**
 * Shrinking a mismatch with fast-check's own shrinker, but checking candidates in batches: each check is a real
 * kernel run, and one harness run over k candidates costs about as much as over one.
 */
import fc from 'fast-check';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';

export interface ShrinkOptions {
  /** candidates checked per kernel round-trip */
  readonly batchSize: number;
  /** stop after this many accepted shrink steps */
  readonly maxSteps: number;
  /** stop after this many candidates checked in all */
  readonly maxChecks: number;
  /** stop after this many kernel round-trips (a VM round-trip is a boot) */
  readonly maxRounds: number;
  /** stops the shrink (a signal): the smallest failing value so far is the result, with `interrupted` set */
  readonly signal?: AbortSignal;
}

export interface ShrinkResult<T> {
  readonly value: T;
  /** fast-check style path of candidate indices taken, e.g. `0:3:1` */
  readonly path: string;
  readonly steps: number;
  readonly checks: number;
  /** stopped by ShrinkOptions.signal before it ran its course */
  readonly interrupted: boolean;
}

/**
 * Greedy shrink: from `start`, repeatedly take the first shrink candidate that still fails, as fast-check's runner does.
 * @param stillFails gets a batch of candidates and answers, per candidate, whether it still shows the same mismatch
 */
export async function shrinkBatched<T>(
  arb: fc.Arbitrary<T>,
  start: fc.Value<T>,
  stillFails: (candidates: readonly T[]) => Promise<readonly boolean[]>,
  opts: ShrinkOptions,
): Promise<ShrinkResult<T>> {
  let current = start;
  const path: number[] = [];
  let checks = 0;
  let rounds = 0;
  outer: while (path.length < opts.maxSteps && checks < opts.maxChecks && rounds < opts.maxRounds) {
    const it = arb.shrink(current.value_, current.context)[Symbol.iterator]();
    let offset = 0;
    for (;;) {
      const batch: fc.Value<T>[] = [];
      for (let n = it.next(); !n.done; n = it.next()) {
        batch.push(n.value);
        if (batch.length >= opts.batchSize) break;
      }
      if (batch.length === 0) break outer;
      if (opts.signal?.aborted) break outer;
      let verdicts: readonly boolean[];
      try {
        verdicts = await stillFails(batch.map((v) => v.value_));
      } catch (e) {
        // a check cut short by the signal says nothing about its candidates: keep the last value known to fail
        if (opts.signal?.aborted) break outer;
        throw e;
      }
      checks += batch.length;
      rounds += 1;
      const hit = verdicts.findIndex(Boolean);
      if (hit >= 0) {
        current = batch[hit]!;
        path.push(offset + hit);
        continue outer;
      }
      offset += batch.length;
      if (checks >= opts.maxChecks || rounds >= opts.maxRounds) break outer;
    }
  }
  return { value: current.value_, path: path.join(':'), steps: path.length, checks, interrupted: opts.signal?.aborted ?? false };
}

/** fast-check's bias schedule (runIdToFrequency): small values early in a run, larger ones later. */
function biasFor(index: number): number {
  return 2 + Math.floor(Math.log(index + 1) / Math.log(10));
}

/** Where a seed's stream of values stands: the next value's index and the generator's state before it (null: the seed's start). */
export interface StreamPosition {
  readonly index: number;
  readonly state: readonly number[] | null;
}

/**
 * The campaign's values from `from` on: value i of seed S is always the same (replay by seed + index), keeps the
 * context its shrinker needs, and comes with the position after it, so a stopped stream continues exactly where it
 * stood (a campaign's checkpoint) without generating the values before it again.
 */
export function* valuesFrom<T>(arb: fc.Arbitrary<T>, seed: number, from: StreamPosition = { index: 0, state: null }): Generator<{ readonly index: number; readonly value: fc.Value<T>; readonly next: StreamPosition }> {
  const mrng = new fc.Random(from.state === null ? xoroshiro128plus(seed) : xoroshiro128plusFromState(from.state));
  for (let i = from.index; ; i++) {
    const value = arb.generate(mrng, biasFor(i));
    yield { index: i, value, next: { index: i + 1, state: mrng.getState()! } };
  }
}

/** The first `count` values of seed S (valuesFrom). */
export function* generateValues<T>(arb: fc.Arbitrary<T>, seed: number, count: number): Generator<fc.Value<T>> {
  if (count <= 0) return;
  for (const v of valuesFrom(arb, seed)) {
    yield v.value;
    if (v.next.index >= count) return;
  }
}

/** Regenerates value `index` of `seed` (replay). */
export function valueAt<T>(arb: fc.Arbitrary<T>, seed: number, index: number): fc.Value<T> {
  let last: fc.Value<T> | null = null;
  for (const v of generateValues(arb, seed, index + 1)) last = v;
  return last!;
}
