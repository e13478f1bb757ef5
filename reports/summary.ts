import type { CaseResult, MismatchKind, ProbedKernel, RunnerName } from '../types/index.ts';
import { kernelDivergences, type KernelDivergences } from './kernelDivergences.ts';

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
}

/** summary.json: one runner on one kernel. */
export interface Summary {
  readonly runner: RunnerName;
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
  /** which known divergences this kernel shows by their load-only probes, and which its range wrongly claims */
  readonly knownDivergences: KernelDivergences;
  readonly durationMs: number;
  readonly casesPerSecond: number;
  /** filled by the pipeline after it wrote the findings */
  readonly findings: readonly FindingRef[];
}

export interface SummaryMeta {
  readonly runner: RunnerName;
  /** the session's kernel, with its divergence probe results */
  readonly kernel: ProbedKernel;
  readonly seed: number | null;
  readonly durationMs: number;
  /** every spec rule id, so rules no case reached show up with 0 */
  readonly ruleIds: readonly string[];
}

const KINDS: readonly MismatchKind[] = ['verdict_kernel_accepts', 'verdict_kernel_rejects', 'message', 'value', 'splat', 'runner_error'];

/** Count the results of one runner × kernel run; pass, fail, skip, divergence and error are counted apart. */
export function summarize(results: readonly CaseResult[], meta: SummaryMeta): Summary {
  const count = (s: CaseResult['status']): number => results.filter((r) => r.status === s).length;
  const mismatchesIn = (statuses: readonly CaseResult['status'][]): number =>
    results.filter((r) => statuses.includes(r.status)).reduce((n, r) => n + r.mismatches.length, 0);
  const byKind = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<MismatchKind, number>;
  for (const m of results.flatMap((r) => r.mismatches)) byKind[m.kind] += 1;
  const byRule: Record<string, number> = Object.fromEntries(meta.ruleIds.map((id) => [id, 0]));
  for (const r of results) {
    if (r.status === 'skip' || r.status === 'error') continue;
    for (const id of new Set(r.rules)) byRule[id] = (byRule[id] ?? 0) + 1;
  }
  return {
    runner: meta.runner,
    kernel: { release: meta.kernel.release, version: meta.kernel.version, nrCpus: meta.kernel.nrCpus },
    seed: meta.seed,
    cases: results.length,
    passed: count('pass'),
    failed: count('fail'),
    skipped: count('skip'),
    divergent: count('divergence'),
    errors: count('error'),
    mismatches: { unexplained: mismatchesIn(['fail', 'error']), knownDivergences: mismatchesIn(['divergence']), byKind },
    ruleCoverage: { hit: meta.ruleIds.filter((id) => (byRule[id] ?? 0) > 0).length, total: meta.ruleIds.length, byRule },
    knownDivergences: kernelDivergences(meta.kernel.divergences),
    durationMs: meta.durationMs,
    casesPerSecond: meta.durationMs > 0 ? Math.round((results.length * 1000 * 100) / meta.durationMs) / 100 : 0,
    findings: [],
  };
}
