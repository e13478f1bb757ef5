/**
 * Shrinking a mismatch with fast-check's own shrinker, but checking candidates in batches: each check is a real
 * kernel run, and one harness run over k candidates costs about as much as over one.
 */
import fc from 'fast-check';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';

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

/** How value i of seed S is drawn (randomFor): a checkpoint records it, and one of another version cannot continue. */
export const STREAM_VERSION = 2;

const MASK64 = (1n << 64n) - 1n;
/** SplitMix64's increment (2^64 / the golden ratio, odd) */
const GAMMA = 0x9e3779b97f4a7c15n;

/** SplitMix64's output function: a bijection of 64-bit words that mixes every input bit into every output bit. */
function splitmix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

const hi = (x: bigint): number => Number(BigInt.asIntN(32, x >> 32n));
const lo = (x: bigint): number => Number(BigInt.asIntN(32, x));

/** splitmix64(S) of the last seed asked for: a campaign draws every value of one seed (each BigInt step allocates) */
const lastSeed = { seed: Number.NaN, mixed: 0n };

/**
 * Value i's own generator: xoroshiro128+ seeded, as its authors advise, with two outputs of SplitMix64 — those at steps
 * 2i + 1 and 2i + 2 of the SplitMix64 sequence that starts at splitmix64(S). Distinct indices of a seed get distinct
 * states (never all zero: the two outputs are of distinct inputs), so a campaign repeats no case before 2^63 of them.
 */
function randomFor(seed: number, index: number): fc.Random {
  if (lastSeed.seed !== seed) {
    lastSeed.mixed = splitmix64(BigInt(seed));
    lastSeed.seed = seed;
  }
  const x = (lastSeed.mixed + (2n * BigInt(index) + 1n) * GAMMA) & MASK64;
  const a = splitmix64(x);
  const b = splitmix64((x + GAMMA) & MASK64);
  return new fc.Random(xoroshiro128plusFromState([hi(a), lo(a), hi(b), lo(b)]));
}

/**
 * Value `index` of seed `seed`: a pure function of the two (replay by seed + index), drawn from its own random state
 * with fast-check's bias for a run's index-th value, so a shard or a resumed campaign draws only the values it runs.
 * The value keeps the context its shrinker needs.
 */
export function valueAt<T>(arb: fc.Arbitrary<T>, seed: number, index: number): fc.Value<T> {
  return arb.generate(randomFor(seed, index), biasFor(index));
}

/** The first `count` values of seed S (valueAt 0, 1, ...). */
export function* generateValues<T>(arb: fc.Arbitrary<T>, seed: number, count: number): Generator<fc.Value<T>> {
  for (let i = 0; i < count; i++) yield valueAt(arb, seed, i);
}
