import type { ChartConfiguration } from 'chart.js';
import type { Summary } from './summary.ts';
import { valueAt, type TimelineSample } from './timeline.ts';

type Point = { readonly x: number; readonly y: number };

/** One plot of report.html: a Chart.js configuration, plain JSON (no callbacks), built here so it is typed and tested. */
export interface ReportChart {
  /** the canvas's id */
  readonly id: string;
  readonly title: string;
  /** pixels: horizontal bar charts grow with their labels */
  readonly height: number;
  readonly config: ChartConfiguration<'line', Point[]> | ChartConfiguration<'bar', number[], string>;
}

/** Series colours: one per runner × kernel, or per measure (failing red, bugs purple, known divergences amber). */
const PALETTE = ['#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f', '#bcbd22'];
const MEASURES = [
  { key: 'failed', label: 'failing cases', color: '#d62728', width: 5 },
  { key: 'bugs', label: 'bugs', color: '#6a3d9a', width: 2 },
  { key: 'divergent', label: 'known-divergence cases', color: '#e6a700', width: 2 },
] as const satisfies readonly { key: keyof TimelineSample; label: string; color: string; width: number }[];

const label = (s: Summary): string => `${s.runner} ${s.kernel.release}`;
const colour = (i: number): string => PALETTE[i % PALETTE.length]!;
/** a static page: no animation (a screenshot or a test sees the final drawing at once) */
const STATIC = { animation: false, responsive: true, maintainAspectRatio: false } as const;

/** The segment's samples from the origin: every count is 0 when its clock starts. */
function fromOrigin(t: readonly TimelineSample[]): TimelineSample[] {
  return [{ ms: 0, cases: 0, failed: 0, bugs: 0, divergent: 0 }, ...t];
}

function overTime(
  id: string, title: string, yTitle: string, datasets: { label: string; data: Point[]; borderColor: string; borderDash?: number[]; borderWidth?: number }[],
): ReportChart {
  return {
    id, title, height: 280,
    config: {
      type: 'line',
      data: { datasets: datasets.map((d) => ({ borderWidth: 2, ...d, backgroundColor: d.borderColor, pointRadius: 0 })) },
      options: {
        ...STATIC,
        scales: { x: { type: 'linear', title: { display: true, text: 'elapsed s' } }, y: { beginAtZero: true, title: { display: true, text: yTitle } } },
      },
    },
  };
}

/** Intervals cases/s is averaged over: cases arrive in batches, so a rate between two samples says little. */
export const RATE_INTERVALS = 50;

/** Cases/s in up to RATE_INTERVALS equal intervals from the clock's start to the last sample, at each interval's end. */
export function casesPerSecond(t: readonly TimelineSample[]): Point[] {
  const end = t.at(-1)?.ms ?? 0;
  if (end <= 0) return [];
  const n = Math.min(RATE_INTERVALS, t.length);
  const width = end / n;
  let before = 0;
  return Array.from({ length: n }, (_, i) => {
    const to = i === n - 1 ? end : (i + 1) * width;
    const cases = valueAt(t, to, 'cases');
    const y = Math.round(((cases - before) * 1000 * 100) / width) / 100;
    before = cases;
    return { x: to / 1000, y };
  });
}

function timeCharts(summaries: readonly Summary[]): ReportChart[] {
  const timed = summaries.map((s, i) => ({ s, i })).filter(({ s }) => s.timeline.length > 0);
  if (timed.length === 0) return [];
  const series = (t: readonly TimelineSample[], key: keyof TimelineSample): Point[] => fromOrigin(t).map((x) => ({ x: x.ms / 1000, y: x[key] }));
  // several kernels: a dash per kernel tells their lines of one measure apart
  const dash = (i: number): number[] => (i === 0 ? [] : [2 + 4 * i, 4]);
  return [
    overTime('chart-cases', 'Cases over time', 'cases', timed.map(({ s, i }) => ({ label: label(s), data: series(s.timeline, 'cases'), borderColor: colour(i) }))),
    overTime('chart-bugs', 'Failing cases, bugs and known divergences over time', 'count', timed.flatMap(({ s, i }) => MEASURES.map((m) => ({
      // failing cases drawn wider: the bugs line often lies on it
      label: timed.length === 1 ? m.label : `${m.label}, ${label(s)}`, data: series(s.timeline, m.key), borderColor: m.color, borderWidth: m.width, borderDash: dash(i),
    })))),
    overTime('chart-rate', 'Cases/s over time', 'cases/s', timed.map(({ s, i }) => ({ label: label(s), data: casesPerSecond(s.timeline), borderColor: colour(i) }))),
  ];
}

/** A bar per label, one bar per runner × kernel (or stacked groups): horizontal, as tall as its labels need. */
function bars(id: string, title: string, xTitle: string, labels: string[], datasets: { label: string; data: number[]; backgroundColor: string; stack?: string }[]): ReportChart {
  const stacked = datasets.some((d) => d.stack !== undefined);
  const perLabel = stacked ? new Set(datasets.map((d) => d.stack)).size : datasets.length;
  return {
    id, title, height: Math.max(160, 60 + labels.length * (8 + 12 * perLabel)),
    config: {
      type: 'bar',
      data: { labels, datasets },
      options: {
        ...STATIC,
        indexAxis: 'y',
        scales: { x: { beginAtZero: true, stacked, title: { display: true, text: xTitle } }, y: { stacked } },
      },
    },
  };
}

/** Cases per spec rule on each runner × kernel: rule coverage and kernels × rules in one grouped chart. */
function ruleChart(summaries: readonly Summary[]): ReportChart[] {
  const rules = [...new Set(summaries.flatMap((s) => Object.keys(s.ruleCoverage.byRule)))].sort();
  if (rules.length === 0) return [];
  return [bars('chart-rules', 'Cases per rule and kernel', 'cases', rules,
    summaries.map((s, i) => ({ label: label(s), data: rules.map((r) => s.ruleCoverage.byRule[r] ?? 0), backgroundColor: colour(i) })))];
}

/**
 * (op × handle state × program type) pairs by op, hit and not hit, allowed and forbidden, stacked per runner × kernel.
 * Counted from `pairs`, a pair once however many runs list it (merged shards' lists are concatenated).
 */
function statePairChart(summaries: readonly Summary[]): ReportChart[] {
  const covered = summaries.map((s, i) => ({ s, i })).filter(({ s }) => s.statePairCoverage.pairs.length > 0);
  if (covered.length === 0) return [];
  const byPair = covered.map(({ s }) => {
    const m = new Map<string, { op: string; allowed: boolean; cases: number }>();
    for (const p of s.statePairCoverage.pairs) {
      const key = `${p.op} ${p.state} ${p.progType}`;
      m.set(key, { op: p.op, allowed: p.allowed, cases: (m.get(key)?.cases ?? 0) + p.cases });
    }
    return [...m.values()];
  });
  const ops = [...new Set(byPair.flat().map((p) => p.op))].sort();
  const kinds = [
    { allowed: true, hit: true, name: 'allowed, hit', color: '#2ca02c' },
    { allowed: true, hit: false, name: 'allowed, not hit', color: '#b7e4b0' },
    { allowed: false, hit: true, name: 'forbidden, hit', color: '#d62728' },
    { allowed: false, hit: false, name: 'forbidden, not hit', color: '#f4b6b6' },
  ];
  return [bars('chart-pairs', 'State pairs (op × handle state × program type) by op', 'pairs', ops, covered.flatMap(({ s }, j) => kinds.map((k) => ({
    label: covered.length === 1 ? k.name : `${k.name}, ${label(s)}`,
    data: ops.map((op) => byPair[j]!.filter((p) => p.op === op && p.allowed === k.allowed && (p.cases > 0) === k.hit).length),
    backgroundColor: k.color,
    stack: label(s),
  }))))];
}

/** Cases each known divergence explained, per runner × kernel. */
function divergenceChart(summaries: readonly Summary[]): ReportChart[] {
  const ids = [...new Set(summaries.flatMap((s) => Object.keys(s.divergenceCases)))].sort();
  if (ids.length === 0) return [];
  return [bars('chart-divergences', 'Known divergences seen', 'cases explained', ids,
    summaries.map((s, i) => ({ label: label(s), data: ids.map((id) => s.divergenceCases[id] ?? 0), backgroundColor: colour(i) })))];
}

/** report.html's plots, in the order shown; those with nothing to draw are left out. */
export function reportCharts(summaries: readonly Summary[]): ReportChart[] {
  return [...timeCharts(summaries), ...ruleChart(summaries), ...statePairChart(summaries), ...divergenceChart(summaries)];
}
