import type { CaseResult, MismatchKind, ProbedKernel, RunnerName, StatePairCoverage, StatePairTarget } from '../types/index.ts';
import { statePairKey } from '../types/index.ts';
import type { Bugs } from './bugBuckets.ts';
import type { EmulatorSummary } from '../judge/emulatorComparison.ts';
import { kernelDivergences, type KernelDivergences } from './kernelDivergences.ts';
import type { TimelineSample } from './timeline.ts';

/** A finding the pipeline wrote (findings/<id>/), as listed in summary.json. */
export interface FindingRef {
  readonly id: string;
  readonly scenarioId: string;
  readonly runner: RunnerName;
  readonly kernelRelease: string;
  readonly kinds: readonly MismatchKind[];
  /** relative to the output directory: `findings/<id>` */
  readonly dir: string;
  readonly replay: string;
  /** false: a splat or runner failure that did not happen again when the scenario ran alone (reproducer.ts) */
  readonly reproduced: boolean | null;
  /** Finding.unshrunkBecause: why shrinking stopped early, null when it did not */
  readonly unshrunkBecause: string | null;
}

/** summary.json: one runner on one kernel. */
export interface Summary {
  readonly runner: RunnerName;
  /** why this runner when the command was given no --runner (cli/config.ts defaultRunner); null when it was */
  readonly runnerChosen: string | null;
  readonly kernel: { readonly release: string; readonly version: string; readonly nrCpus: number };
  readonly seed: number | null;
  readonly cases: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly divergent: number;
  readonly errors: number;
  readonly mismatches: {
    /** mismatches in failed and errored cases */
    readonly unexplained: number;
    /** mismatches in cases every one of whose mismatches a known divergence explains */
    readonly knownDivergences: number;
    readonly byKind: Readonly<Record<MismatchKind, number>>;
  };
  readonly ruleCoverage: {
    /** spec rules exercised by at least one case that ran (skipped and errored cases do not count) */
    readonly hit: number;
    readonly total: number;
    readonly byRule: Readonly<Record<string, number>>;
  };
  /** (op × handle state × program type) pairs of this kernel's vocabulary reached by cases that ran (types/statePair.ts) */
  readonly statePairCoverage: StatePairCoverage;
  /**
   * userspace map operations executed, by `<mapOp> <mapType> <errno or ok>` (CaseResult.mapOps), and the same
   * summed by operation and by map type
   */
  readonly mapOpCoverage: {
    readonly byOp: Readonly<Record<string, number>>;
    readonly byKind: Readonly<Record<string, number>>;
    readonly byMapType: Readonly<Record<string, number>>;
  };
  /** cases that ran, by what else they exercised (CaseResult.exercises: `step free_maps`, `home map lru_hash`, ...) */
  readonly exerciseCoverage: Readonly<Record<string, number>>;
  /** which known divergences this kernel shows by their load-only probes, and which its range wrongly claims */
  readonly knownDivergences: KernelDivergences;
  /** cases each known divergence explained (status divergence), by divergence id */
  readonly divergenceCases: Readonly<Record<string, number>>;
  /** the segment's progress as its cases ran, at most MAX_SAMPLES points (reports/timeline.ts), filled by cli/outputs.ts */
  readonly timeline: readonly TimelineSample[];
  readonly durationMs: number;
  readonly casesPerSecond: number;
  /**
   * why the run ended before all its cases (`SIGINT`, `SIGTERM`, `KPTR_DISK_FULL`): the counts are of the cases that
   * finished; null when it ran to the end
   */
  readonly stopped: string | null;
  /** filled by the pipeline after it wrote the findings */
  readonly findings: readonly FindingRef[];
  /** the failing cases by bug signature (a campaign's; empty for selftests and replay), filled with the findings */
  readonly bugs: Bugs;
  /** --with-emulator: where the emulator with this kernel's profile agrees with it (judge/emulatorComparison.ts); else null */
  readonly emulator: EmulatorSummary | null;
}

export interface SummaryMeta {
  readonly runner: RunnerName;
  /** Summary.runnerChosen (default null) */
  readonly runnerChosen?: string | null;
  /** the session's kernel, with its divergence probe results */
  readonly kernel: ProbedKernel;
  readonly seed: number | null;
  readonly durationMs: number;
  /** every spec rule id, so rules no case reached show up with 0 */
  readonly ruleIds: readonly string[];
  /** the kernel's state-pair vocabulary (summaryTally's `pairs`); default none */
  readonly statePairs?: readonly StatePairTarget[];
  /** Summary.stopped (default null) */
  readonly stopped?: string | null;
}

const KINDS: readonly MismatchKind[] = ['verdict_kernel_accepts', 'verdict_kernel_rejects', 'message', 'value', 'map_op', 'leak', 'splat', 'runner_error'];

/** A summary counted case by case, so a campaign keeps counts, not results, whatever its length. */
export interface SummaryTally {
  add(r: CaseResult): void;
  summary(meta: SummaryMeta): Summary;
}

/** The coverage of a vocabulary given how many cases reached each pair (by statePairKey). */
export function statePairCoverage(vocabulary: readonly Pick<StatePairTarget, 'op' | 'state' | 'progType' | 'allowed'>[], cases: Readonly<Record<string, number>>): StatePairCoverage {
  const pairs = vocabulary.map((p) => ({ op: p.op, state: p.state, progType: p.progType, allowed: p.allowed, cases: cases[statePairKey(p)] ?? 0 }));
  const count = (allowed: boolean): { total: number; hit: number } => {
    const of = pairs.filter((p) => p.allowed === allowed);
    return { total: of.length, hit: of.filter((p) => p.cases > 0).length };
  };
  return { allowed: count(true), forbidden: count(false), pairs };
}

/** `allowed 15/15 (100 %), forbidden 90/97 (92.8 %)`: state-pair coverage beside rule coverage (console, HTML). */
export function statePairText(c: StatePairCoverage): string {
  const part = (name: string, x: { total: number; hit: number }): string =>
    `${name} ${x.hit}/${x.total}${x.total === 0 ? '' : ` (${Math.round((x.hit * 1000) / x.total) / 10} %)`}`;
  return `${part('allowed', c.allowed)}, ${part('forbidden', c.forbidden)}`;
}

/**
 * Counts the results of one runner × kernel run; pass, fail, skip, divergence and error are counted apart.
 * `pairs`: the kernel's state-pair vocabulary (oracle/statePairs.ts); pairs outside it are not counted.
 */
export function summaryTally(ruleIds: readonly string[], pairs: readonly StatePairTarget[] = []): SummaryTally {
  const statuses: Record<CaseResult['status'], number> = { pass: 0, fail: 0, skip: 0, divergence: 0, error: 0 };
  let unexplained = 0;
  let knownDivergences = 0;
  const byKind = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<MismatchKind, number>;
  const byRule: Record<string, number> = Object.fromEntries(ruleIds.map((id) => [id, 0]));
  const byOp: Record<string, number> = {};
  const divergenceCases: Record<string, number> = {};
  const byPair: Record<string, number> = {};
  const byExercise: Record<string, number> = {};
  return {
    add(r) {
      statuses[r.status] += 1;
      if (r.status === 'fail' || r.status === 'error') unexplained += r.mismatches.length;
      if (r.status === 'divergence') knownDivergences += r.mismatches.length;
      for (const m of r.mismatches) byKind[m.kind] += 1;
      if (r.status === 'divergence') for (const id of new Set(r.divergences)) divergenceCases[id] = (divergenceCases[id] ?? 0) + 1;
      if (r.status === 'skip' || r.status === 'error') return;
      for (const id of new Set(r.rules)) byRule[id] = (byRule[id] ?? 0) + 1;
      for (const op of r.mapOps) byOp[op] = (byOp[op] ?? 0) + 1;
      for (const e of r.exercises ?? []) byExercise[e] = (byExercise[e] ?? 0) + 1;
      for (const key of new Set(r.statePairs.map(statePairKey))) byPair[key] = (byPair[key] ?? 0) + 1;
    },
    summary(meta) {
      const cases = Object.values(statuses).reduce((a, b) => a + b, 0);
      return {
        runner: meta.runner,
        runnerChosen: meta.runnerChosen ?? null,
        kernel: { release: meta.kernel.release, version: meta.kernel.version, nrCpus: meta.kernel.nrCpus },
        seed: meta.seed,
        cases,
        passed: statuses.pass,
        failed: statuses.fail,
        skipped: statuses.skip,
        divergent: statuses.divergence,
        errors: statuses.error,
        mismatches: { unexplained, knownDivergences, byKind: { ...byKind } },
        ruleCoverage: { hit: meta.ruleIds.filter((id) => (byRule[id] ?? 0) > 0).length, total: meta.ruleIds.length, byRule: { ...byRule } },
        statePairCoverage: statePairCoverage(pairs, byPair),
        mapOpCoverage: { byOp: sortedKeys(byOp), byKind: sumBy(byOp, 0), byMapType: sumBy(byOp, 1) },
        exerciseCoverage: sortedKeys(byExercise),
        knownDivergences: kernelDivergences(meta.kernel.divergences),
        divergenceCases: sortedKeys(divergenceCases),
        timeline: [],
        durationMs: meta.durationMs,
        casesPerSecond: meta.durationMs > 0 ? Math.round((cases * 1000 * 100) / meta.durationMs) / 100 : 0,
        stopped: meta.stopped ?? null,
        findings: [],
        bugs: {},
        emulator: null,
      };
    },
  };
}

function sortedKeys(counts: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** counts of `<mapOp> <mapType> <result>` keys summed by one of their words */
function sumBy(counts: Readonly<Record<string, number>>, word: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(counts)) {
    const w = key.split(' ')[word] ?? key;
    out[w] = (out[w] ?? 0) + n;
  }
  return sortedKeys(out);
}

/** The summary of a list of results (summaryTally over all of them). */
export function summarize(results: readonly CaseResult[], meta: SummaryMeta): Summary {
  const t = summaryTally(meta.ruleIds, meta.statePairs);
  for (const r of results) t.add(r);
  return t.summary(meta);
}
