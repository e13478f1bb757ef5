import { describe, expect, it } from 'vitest';
import { casesPerSecond, RATE_INTERVALS, reportCharts } from '../../../reports/reportCharts.ts';
import { summarize, type Summary } from '../../../reports/summary.ts';
import type { TimelineSample } from '../../../reports/timeline.ts';
import type { StatePairOp, StatePairState } from '../../../types/index.ts';
import { PROBED_KERNEL } from './fixtures/cases.ts';
import { sampleCases } from './fixtures/sample.ts';

const sample = (ms: number, cases: number, failed = 0, bugs = 0, divergent = 0): TimelineSample => ({ ms, cases, failed, bugs, divergent });
const counted = summarize(sampleCases().map((c) => c.result), { runner: 'host', kernel: PROBED_KERNEL, seed: 1, durationMs: 3000, ruleIds: [] });
const base: Summary = { ...counted, ruleCoverage: { hit: 1, total: 2, byRule: { 'a.rule': 3, 'b.rule': 0 } } };
const summary = (over: Partial<Summary>): Summary => ({ ...base, ...over });
const datasets = (s: readonly Summary[], id: string) => {
  const c = reportCharts(s).find((x) => x.id === id);
  expect(c, id).toBeDefined();
  return c!.config.data.datasets.map((d) => ({ label: d.label, data: d.data }));
};

describe('reportCharts', () => {
  const timeline = [sample(1000, 10), sample(2000, 30, 1, 1), sample(3000, 40, 2, 1, 1)];

  it('should plot the timeline from the origin: cases, the failing measures and cases/s, in seconds', () => {
    const s = [summary({ timeline })];
    expect(datasets(s, 'chart-cases')).toEqual([{ label: 'host 6.18.44-fc-v669', data: [{ x: 0, y: 0 }, { x: 1, y: 10 }, { x: 2, y: 30 }, { x: 3, y: 40 }] }]);
    expect(datasets(s, 'chart-bugs').map((d) => [d.label, d.data.map((p) => (p as { y: number }).y)])).toEqual([
      ['failing cases', [0, 0, 1, 2]], ['bugs', [0, 0, 1, 1]], ['known-divergence cases', [0, 0, 0, 1]],
    ]);
    expect(datasets(s, 'chart-rate')[0]!.data).toEqual([{ x: 1, y: 10 }, { x: 2, y: 20 }, { x: 3, y: 10 }]);
  });

  it('should leave out what has nothing to draw: no timeline, no divergence seen, no state pairs', () => {
    const ids = reportCharts([summary({ divergenceCases: {} })]).map((c) => c.id);
    expect(ids).toEqual(['chart-rules']);
  });

  it('should draw kernels × rules and known divergences with one dataset per runner × kernel', () => {
    const other = summary({ kernel: { ...base.kernel, release: '7.3.0' }, ruleCoverage: { ...base.ruleCoverage, byRule: { 'c.rule': 4 } }, divergenceCases: { d2: 5 } });
    const s = [summary({ divergenceCases: { d1: 2 } }), other];
    const rules = reportCharts(s).find((c) => c.id === 'chart-rules')!.config.data;
    expect(rules.labels).toEqual(['a.rule', 'b.rule', 'c.rule']);
    expect(datasets(s, 'chart-rules')).toEqual([
      { label: 'host 6.18.44-fc-v669', data: [3, 0, 0] },
      { label: 'host 7.3.0', data: [0, 0, 4] },
    ]);
    expect(datasets(s, 'chart-divergences')).toEqual([{ label: 'host 6.18.44-fc-v669', data: [2, 0] }, { label: 'host 7.3.0', data: [0, 5] }]);
  });

  it('should count state pairs by op once each, hit or not, allowed or forbidden (merged shards list a pair twice)', () => {
    const pair = (op: StatePairOp, state: StatePairState, allowed: boolean, cases: number) => ({ op, state, progType: 'tc' as const, allowed, cases });
    const statePairCoverage: Summary['statePairCoverage'] = {
      allowed: { total: 2, hit: 1 }, forbidden: { total: 1, hit: 1 },
      pairs: [pair('sum', 'percpu_ptr_', true, 3), pair('xchg', 'percpu_ptr_', true, 0), pair('xchg', 'released', false, 1), pair('xchg', 'released', false, 2)],
    };
    const c = reportCharts([summary({ statePairCoverage })]).find((x) => x.id === 'chart-pairs')!;
    expect(c.config.data.labels).toEqual(['sum', 'xchg']);
    expect(datasets([summary({ statePairCoverage })], 'chart-pairs')).toEqual([
      { label: 'allowed, hit', data: [1, 0] }, { label: 'allowed, not hit', data: [0, 1] },
      { label: 'forbidden, hit', data: [0, 1] }, { label: 'forbidden, not hit', data: [0, 0] },
    ]);
  });

  it('should survive a JSON round trip: plain data only, no callbacks', () => {
    const charts = reportCharts([summary({ timeline, divergenceCases: { d: 1 } })]);
    expect(JSON.parse(JSON.stringify(charts))).toEqual(charts);
  });
});

describe('casesPerSecond', () => {
  it('should average over RATE_INTERVALS equal intervals, which add up to the cases', () => {
    // batches of 10 cases at once, 40 ms apart: 100 samples
    const t = Array.from({ length: 100 }, (_, i) => sample(40 * (i + 1), 10 * (i + 1)));
    const rate = casesPerSecond(t);
    expect(rate).toHaveLength(RATE_INTERVALS);
    expect(rate.at(-1)!.x).toBe(4);
    for (const p of rate) expect(p.y).toBeCloseTo(250, 5);
    expect(rate.reduce((n, p) => n + (p.y * 4) / RATE_INTERVALS, 0)).toBeCloseTo(1000, 5);
  });

  it('should have no rate before the clock moved', () => {
    expect(casesPerSecond([])).toEqual([]);
    expect(casesPerSecond([sample(0, 5)])).toEqual([]);
  });
});
