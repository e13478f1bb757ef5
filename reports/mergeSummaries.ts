import { statePairKey } from '../types/index.ts';
import { statePairCoverage, type Summary } from './summary.ts';
import { mergeTimelines } from './timeline.ts';

/**
 * How one field of summary.json combines across runs of the same runner × kernel (a campaign's shards), by its path
 * (`a.b`). Fields not listed combine generically (mergeValues): numbers add up, keyed maps are merged key by key,
 * lists are concatenated, and any other value is the first run's. A field whose sum means nothing says so here.
 */
const FIELD_RULES: Readonly<Record<string, (values: readonly unknown[]) => unknown>> = {
  // the same for every shard of one runner × kernel: the first one's
  runner: first,
  runnerChosen: first,
  kernel: first,
  seed: first,
  knownDivergences: first,
  // shards run side by side: the merged run took as long as its longest shard
  durationMs: (vs) => Math.max(...(vs as number[])),
  // a run stopped early makes the merged one stopped (the first reason)
  stopped: (vs) => vs.find((v) => v !== null) ?? null,
  // derived: recomputed by mergeSummaries from the merged fields
  casesPerSecond: first,
  'ruleCoverage.hit': first,
  'ruleCoverage.total': first,
  timeline: first,
  // every shard has the kernel's whole vocabulary: counts add up pair by pair, the totals are recomputed
  statePairCoverage: (vs) => {
    const runs = (vs as (Summary['statePairCoverage'] | undefined)[]).filter((r) => r !== undefined);
    if (runs.length === 0) return undefined;
    const cases: Record<string, number> = {};
    for (const p of runs.flatMap((r) => r.pairs)) cases[statePairKey(p)] = (cases[statePairKey(p)] ?? 0) + p.cases;
    return statePairCoverage(runs[0]?.pairs ?? [], cases);
  },
};

function first(values: readonly unknown[]): unknown {
  return values[0];
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Combines the values one field has in several runs (FIELD_RULES, else numbers summed, maps merged, lists concatenated). */
export function mergeValues(values: readonly unknown[], path = ''): unknown {
  const rule = FIELD_RULES[path];
  if (rule) return rule(values);
  const present = values.filter((v) => v !== undefined);
  if (present.length === 0) return undefined;
  if (present.every((v) => typeof v === 'number')) return (present as number[]).reduce((a, b) => a + b, 0);
  if (present.every(Array.isArray)) return (present as unknown[][]).flat();
  if (present.every(isMap)) {
    const keys = [...new Set(present.flatMap((v) => Object.keys(v)))];
    return Object.fromEntries(keys.map((k) => [k, mergeValues(present.map((v) => v[k]), path === '' ? k : `${path}.${k}`)]));
  }
  return present[0];
}

/** The summary of one runner × kernel's runs (a campaign's shards) as if they were one run. */
export function mergeSummary(runs: readonly Summary[]): Summary {
  const merged = mergeValues(runs) as Summary;
  const byRule = merged.ruleCoverage.byRule;
  const bugs = oneRunsFindings(merged.bugs, runs);
  const kept = new Set(Object.values(bugs).flatMap((b) => b.cases.flatMap((c) => (c.finding === null ? [] : [c.finding]))));
  const inBug = new Set(Object.values(merged.bugs).flatMap((b) => b.cases.flatMap((c) => (c.finding === null ? [] : [c.finding]))));
  return {
    ...merged,
    findings: merged.findings.filter((f) => kept.has(f.id) || !inBug.has(f.id)),
    ruleCoverage: { ...merged.ruleCoverage, hit: Object.values(byRule).filter((n) => n > 0).length },
    casesPerSecond: merged.durationMs > 0 ? Math.round((merged.cases * 1000 * 100) / merged.durationMs) / 100 : 0,
    bugs,
    // the shards ran side by side: their counts added up by elapsed time
    timeline: mergeTimelines(runs.map((r) => r.timeline), Object.keys(bugs).length),
  };
}

/**
 * Each shard wrote findings for the first cases of each bug it met (--shrinks-per-bug); one run would have written
 * them for the bug's first cases of the whole stream only. Per bug: its cases in stream order (corpus first), its
 * mismatch kinds once each, and findings kept for as many first cases as one shard wrote at most.
 */
function oneRunsFindings(bugs: Summary['bugs'], runs: readonly Summary[]): Summary['bugs'] {
  return Object.fromEntries(Object.entries(bugs).map(([sig, b]) => {
    const perBug = Math.max(0, ...runs.map((r) => r.bugs[sig]?.cases.filter((c) => c.finding !== null).length ?? 0));
    const cases = [...b.cases].sort((x, y) => (x.index ?? -1) - (y.index ?? -1));
    const withFinding = cases.filter((c) => c.finding !== null).slice(0, perBug);
    return [sig, {
      ...b,
      kinds: [...new Set(b.kinds)].sort(),
      cases: cases.map((c) => (c.finding !== null && !withFinding.includes(c) ? { ...c, finding: null } : c)),
    }];
  }));
}

/** Several runs' segments, grouped by runner × kernel (in the order first seen) and merged per group. */
export function mergeSummaries(runs: readonly (readonly Summary[])[]): Summary[] {
  const groups = new Map<string, Summary[]>();
  for (const s of runs.flat()) {
    const key = `${s.runner} ${s.kernel.release}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map(mergeSummary);
}
