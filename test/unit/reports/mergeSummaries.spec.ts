import { describe, expect, it } from 'vitest';
import { mergeSummaries, mergeValues } from '../../../reports/mergeSummaries.ts';
import { summarize, type Summary } from '../../../reports/summary.ts';
import type { CaseResult, ProbedKernel, StatePair, StatePairTarget } from '../../../types/index.ts';

const kernel: ProbedKernel = { release: '6.18.44-fc-v1045', version: '6.18.44', nrCpus: 2, machine: 'host', divergences: [] } as unknown as ProbedKernel;
const ruleIds = ['a', 'b', 'c'];
const own: StatePair = { op: 'xchg', state: 'percpu_ptr_', progType: 'tc' };
const dropped: StatePair = { op: 'read', state: 'released', progType: 'syscall' };
const statePairs: StatePairTarget[] = [
  { ...own, allowed: true, rule: null },
  { ...dropped, allowed: false, rule: 'mem.scalar_deref' },
  { op: 'sum', state: 'NULL', progType: 'tc', allowed: false, rule: 'percpu_ptr.bad_arg' },
];
const result = (i: number, status: CaseResult['status'], rules: string[], pairs: StatePair[] = []): CaseResult => ({
  scenarioId: `s_${i}`, runner: 'host', kernelRelease: kernel.release, status, mismatches: [], rules, statePairs: pairs, divergences: [], skipReason: null, mapOps: [],
} as unknown as CaseResult);

const results = [result(0, 'pass', ['a'], [own]), result(1, 'fail', ['b'], [own, dropped]), result(2, 'skip', ['c'], [dropped]), result(3, 'pass', ['a']), result(4, 'divergence', ['a'], [own])];
const meta = (durationMs: number) => ({ runner: 'host' as const, kernel, seed: 3, durationMs, ruleIds, statePairs });

describe('mergeSummaries', () => {
  it('should give the shards of a run the counts of the whole run', () => {
    const whole = summarize(results, meta(1000));
    const shards = [0, 1].map((k) => summarize(results.filter((_, i) => i % 2 === k), meta(400 + k * 100)));
    const [merged] = mergeSummaries([[shards[0]!], [shards[1]!]]);
    const counts = (s: Summary) => ({ cases: s.cases, passed: s.passed, failed: s.failed, skipped: s.skipped, divergent: s.divergent, errors: s.errors, mismatches: s.mismatches, ruleCoverage: s.ruleCoverage, statePairCoverage: s.statePairCoverage, seed: s.seed, kernel: s.kernel });
    expect(counts(merged!)).toEqual(counts(whole));
    // a skipped case reached nothing: the state pair of case 2 counts only through case 1
    expect(whole.statePairCoverage).toEqual({
      allowed: { total: 1, hit: 1 }, forbidden: { total: 2, hit: 1 },
      pairs: [{ ...own, allowed: true, cases: 3 }, { ...dropped, allowed: false, cases: 1 }, { op: 'sum', state: 'NULL', progType: 'tc', allowed: false, cases: 0 }],
    });
    // shards run side by side: the longest one's time
    expect(merged!.durationMs).toBe(500);
    expect(merged!.casesPerSecond).toBe(10);
  });

  it('should add the shards\' timelines up by elapsed time, ending on the merged counts', () => {
    const sample = (ms: number, cases: number, failed: number) => ({ ms, cases, failed, bugs: failed, divergent: 0 });
    const shards = [
      { ...summarize(results.slice(0, 2), meta(400)), timeline: [sample(100, 1, 0), sample(300, 2, 1)] },
      { ...summarize(results.slice(2), meta(500)), timeline: [sample(200, 2, 0), sample(400, 3, 0)] },
    ];
    const [merged] = mergeSummaries([[shards[0]!], [shards[1]!]]);
    expect(merged!.timeline.map((x) => [x.ms, x.cases, x.failed])).toEqual([[100, 1, 0], [200, 3, 0], [300, 4, 1], [400, 5, 1]]);
    expect(merged!.timeline.at(-1)!.cases).toBe(merged!.cases);
  });

  it('should keep runner × kernel segments apart', () => {
    const other = { ...summarize(results, meta(10)), kernel: { ...kernel, release: '7.3.0' } };
    expect(mergeSummaries([[summarize(results, meta(10)), other], [other]]).map((s) => [s.kernel.release, s.cases])).toEqual([['6.18.44-fc-v1045', 5], ['7.3.0', 10]]);
  });

  it('should sum, union and concatenate fields it knows nothing of (what later versions add)', () => {
    expect(mergeValues([
      { bugs: 2, buckets: { x: { cases: 3, seeds: [1] } }, label: 'a' },
      { bugs: 1, buckets: { x: { cases: 1, seeds: [2] }, y: { cases: 5, seeds: [] } }, label: 'b', extra: [7] },
    ])).toEqual({ bugs: 3, buckets: { x: { cases: 4, seeds: [1, 2] }, y: { cases: 5, seeds: [] } }, label: 'a', extra: [7] });
  });
});
