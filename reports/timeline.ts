import type { CaseResult } from '../types/index.ts';

/** One point of a segment's progress: the counts after its `cases`-th case, `ms` after the segment's clock started. */
export interface TimelineSample {
  readonly ms: number;
  readonly cases: number;
  /** failing cases: status fail or error */
  readonly failed: number;
  /** distinct bug signatures among them (reports/bugSignature.ts) */
  readonly bugs: number;
  /** cases a known divergence explains */
  readonly divergent: number;
}

/** What a timeline needs to go on after a resume: its samples (the last one the latest case) and its stride. */
export interface TimelineState {
  /** a sample is taken every `every` cases; doubled whenever the samples reach MAX_SAMPLES */
  readonly every: number;
  readonly samples: readonly TimelineSample[];
}

/**
 * Samples a segment keeps at most: at every `every` cases, halved by dropping every other one when full, so a
 * 1,000,000-case campaign keeps between MAX_SAMPLES / 2 and MAX_SAMPLES evenly spaced ones, and memory stays flat.
 */
export const MAX_SAMPLES = 256;

/** A segment's progress, counted case by case (summary.json's `timeline`, report.html's plots over time). */
export interface TimelineTally {
  /**
   * `bug`: the case's bug signature (null when it is not failing). `ms`: when it finished on the segment's clock, or
   * null for a case an earlier process recorded (run --resume): counted, never sampled (its samples are restored).
   */
  add(r: CaseResult, bug: string | null, ms: number | null): void;
  /** the samples, ending with the latest case's counts */
  state(): TimelineState;
}

/** `from`: the state a checkpoint kept, to continue an interrupted segment's timeline. */
export function timelineTally(from: TimelineState | null = null): TimelineTally {
  let every = from?.every ?? 1;
  let samples: TimelineSample[] = [...(from?.samples ?? [])];
  let latestMs = samples.at(-1)?.ms ?? 0;
  let cases = 0;
  let failed = 0;
  let divergent = 0;
  const bugs = new Set<string>();
  const now = (): TimelineSample => ({ ms: latestMs, cases, failed, bugs: bugs.size, divergent });
  return {
    add(r, bug, ms) {
      cases += 1;
      if (r.status === 'fail' || r.status === 'error') failed += 1;
      if (r.status === 'divergence') divergent += 1;
      if (bug !== null) bugs.add(bug);
      if (ms === null) return;
      latestMs = ms;
      if (cases % every !== 0) return;
      samples.push(now());
      if (samples.length < MAX_SAMPLES) return;
      every *= 2;
      samples = samples.filter((s) => s.cases % every === 0);
    },
    state() {
      const last = samples.at(-1);
      const tail = last !== undefined && last.cases === cases ? [] : cases === 0 ? [] : [now()];
      return { every, samples: [...samples, ...tail] };
    },
  };
}

/** The value of `key` a timeline had at `ms`: its last sample up to then (0 before its first). */
export function valueAt(samples: readonly TimelineSample[], ms: number, key: keyof TimelineSample): number {
  let v = 0;
  for (const s of samples) {
    if (s.ms > ms) break;
    v = s[key];
  }
  return v;
}

/**
 * The timeline of shards that ran side by side (kptr-conform merge): at each moment any shard sampled, the counts of
 * all of them added up. Bugs are added up too, capped at `bugs` (the merged run's): two shards meeting the same bug
 * count it twice until the cap, so the curve is an upper bound that ends on the merged count. Evenly thinned to
 * MAX_SAMPLES.
 */
export function mergeTimelines(shards: readonly (readonly TimelineSample[])[], bugs: number): TimelineSample[] {
  const times = [...new Set(shards.flatMap((s) => s.map((x) => x.ms)))].sort((a, b) => a - b);
  const sum = (ms: number, key: keyof TimelineSample): number => shards.reduce((n, s) => n + valueAt(s, ms, key), 0);
  const merged = times.map((ms) => ({
    ms, cases: sum(ms, 'cases'), failed: sum(ms, 'failed'), bugs: Math.min(bugs, sum(ms, 'bugs')), divergent: sum(ms, 'divergent'),
  }));
  if (merged.length <= MAX_SAMPLES) return merged;
  const step = merged.length / MAX_SAMPLES;
  return [...Array.from({ length: MAX_SAMPLES - 1 }, (_, i) => merged[Math.floor(i * step)]!), merged.at(-1)!];
}
