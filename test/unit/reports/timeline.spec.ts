import { describe, expect, it } from 'vitest';
import { MAX_SAMPLES, mergeTimelines, timelineTally, type TimelineSample } from '../../../reports/timeline.ts';
import type { CaseResult } from '../../../types/index.ts';

const result = (status: CaseResult['status']): CaseResult => ({
  scenarioId: 's', runner: 'host', kernelRelease: 'k', status, mismatches: [], skipReason: null, divergences: [], rules: [], mapOps: [], statePairs: [],
});
const PASS = result('pass');
const FAIL = result('fail');
const DIV = result('divergence');

describe('timelineTally', () => {
  it('should keep at most MAX_SAMPLES evenly spaced samples of a 1,000,000-case segment, ending on its last case', () => {
    const t = timelineTally();
    for (let i = 1; i <= 1_000_000; i++) t.add(i % 1000 === 0 ? FAIL : PASS, i % 1000 === 0 ? `bug${i % 3}` : null, i);
    const { every, samples } = t.state();
    expect(samples.length).toBeGreaterThanOrEqual(MAX_SAMPLES / 2);
    expect(samples.length).toBeLessThanOrEqual(MAX_SAMPLES);
    // every sample but the last on the stride, in order
    expect(samples.slice(0, -1).every((s, i) => s.cases === (i + 1) * every)).toBe(true);
    expect(samples.at(-1)).toEqual({ ms: 1_000_000, cases: 1_000_000, failed: 1000, bugs: 3, divergent: 0 });
  });

  it('should count failing cases, distinct bugs and known-divergence cases, and sample each case while it has room', () => {
    const t = timelineTally();
    t.add(PASS, null, 10);
    t.add(FAIL, 'a', 20);
    t.add(result('error'), 'a', 30);
    t.add(DIV, null, 40);
    expect(t.state()).toEqual({
      every: 1,
      samples: [
        { ms: 10, cases: 1, failed: 0, bugs: 0, divergent: 0 },
        { ms: 20, cases: 2, failed: 1, bugs: 1, divergent: 0 },
        { ms: 30, cases: 3, failed: 2, bugs: 1, divergent: 0 },
        { ms: 40, cases: 4, failed: 2, bugs: 1, divergent: 1 },
      ],
    });
  });

  it('should go on from a checkpoint\'s state: recorded cases counted, not sampled again', () => {
    const first = timelineTally();
    for (let i = 1; i <= 600; i++) first.add(i === 300 ? FAIL : PASS, i === 300 ? 'a' : null, i * 10);
    const checkpoint = first.state();
    // the resumed process counts the recorded cases again (results.jsonl up to the checkpoint), with no time
    const resumed = timelineTally(JSON.parse(JSON.stringify(checkpoint)));
    for (let i = 1; i <= 600; i++) resumed.add(i === 300 ? FAIL : PASS, i === 300 ? 'a' : null, null);
    expect(resumed.state()).toEqual(checkpoint);
    // and the cases after it continue the same stride and counts: as if never interrupted
    for (let i = 601; i <= 1200; i++) resumed.add(i === 900 ? FAIL : PASS, i === 900 ? 'b' : null, i * 10);
    const whole = timelineTally();
    for (let i = 1; i <= 1200; i++) whole.add(i === 300 || i === 900 ? FAIL : PASS, i === 300 ? 'a' : i === 900 ? 'b' : null, i * 10);
    expect(resumed.state().samples.at(-1)).toEqual(whole.state().samples.at(-1));
    expect(resumed.state().samples.filter((s) => s.cases % whole.state().every === 0)).toEqual(whole.state().samples);
  });

  it('should have no sample before any case', () => {
    expect(timelineTally().state()).toEqual({ every: 1, samples: [] });
  });
});

describe('mergeTimelines', () => {
  const s = (ms: number, cases: number, bugs = 0): TimelineSample => ({ ms, cases, failed: bugs, bugs, divergent: 0 });

  it('should add up shards that ran side by side at each moment any of them sampled, bugs capped at the merged count', () => {
    const merged = mergeTimelines([[s(10, 5, 1), s(30, 10, 1)], [s(20, 4, 1), s(40, 8, 2)]], 2);
    expect(merged.map((x) => [x.ms, x.cases, x.failed, x.bugs])).toEqual([[10, 5, 1, 1], [20, 9, 2, 2], [30, 14, 2, 2], [40, 18, 3, 2]]);
  });

  it('should thin a long merge to MAX_SAMPLES, keeping the end', () => {
    const shard = (offset: number): TimelineSample[] => Array.from({ length: MAX_SAMPLES }, (_, i) => s(2 * i + offset, i + 1));
    const merged = mergeTimelines([shard(0), shard(1)], 0);
    expect(merged).toHaveLength(MAX_SAMPLES);
    expect(merged.at(-1)).toEqual(s(2 * MAX_SAMPLES - 1, 2 * MAX_SAMPLES));
  });
});
