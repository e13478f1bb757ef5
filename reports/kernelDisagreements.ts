import type { CaseResult, Observation, Prediction } from '../types/index.ts';

/** One case as a multi-kernel comparison needs it. */
export interface KernelCase {
  readonly result: CaseResult;
  readonly expected: Prediction | null;
  readonly observation: Observation;
}

/** What one kernel did with one program, beside what the oracle predicted for that kernel. */
export interface ProgramOnKernel {
  readonly kernel: string;
  /** `accepted`, `rejected: <first line of the refusal>`, or why nothing was observed */
  readonly observed: string;
  /** `accepted` or `rejected: <rule id>` (null when the oracle never ran) */
  readonly predicted: string | null;
  /** the case's comparison status; `fail`/`error` when this program is among its mismatches */
  readonly status: CaseResult['status'];
}

/** A program the kernels treat differently, or that some kernel treats differently from the oracle. */
export interface ProgramAcrossKernels {
  readonly scenarioId: string;
  readonly program: string;
  /** the kernels' verdicts (accepted / rejected) differ from each other */
  readonly kernelsDisagree: boolean;
  /** some kernel's observation differs from the oracle's prediction for it (known divergences excluded) */
  readonly oracleDisagrees: boolean;
  readonly byKernel: readonly ProgramOnKernel[];
}

function observed(o: Observation, program: string): string {
  if (o.skipped) return `skipped: ${o.skipped}`;
  const p = o.programs.find((x) => x.program === program);
  if (!p) return o.error ? `error: ${o.error.code}` : 'not observed';
  return p.verdict === 'accepted' ? 'accepted' : `rejected: ${p.summary}`;
}

function predicted(e: Prediction | null, program: string): string | null {
  const p = e?.programs.find((x) => x.program === program);
  if (!p) return null;
  return p.verdict === 'accepted' ? 'accepted' : `rejected: ${p.expected.ruleId}`;
}

function statusFor(r: CaseResult, program: string): CaseResult['status'] {
  if (r.status !== 'fail' && r.status !== 'error') return r.status;
  return r.mismatches.some((m) => m.program === program || m.program === null) ? r.status : 'pass';
}

/**
 * The same scenarios run on several kernels (one entry per kernel, keyed by kernel release): every program on which
 * the kernels' verdicts differ, or on which some kernel differs from the oracle's per-version prediction. Pure.
 * A kernel that differs from the others but as the oracle predicts for its version (a feature it lacks, a message
 * it words differently) shows kernelsDisagree without oracleDisagrees: expected evolution, not a finding.
 */
export function kernelDisagreements(runs: ReadonlyMap<string, readonly KernelCase[]>): ProgramAcrossKernels[] {
  const rows = new Map<string, { scenarioId: string; program: string; byKernel: ProgramOnKernel[] }>();
  for (const [kernel, cases] of runs) {
    for (const c of cases) {
      const programs = c.expected?.programs.map((p) => p.program) ?? c.observation.programs.map((p) => p.program);
      for (const program of programs) {
        const key = `${c.result.scenarioId}\u0000${program}`;
        const row = rows.get(key) ?? { scenarioId: c.result.scenarioId, program, byKernel: [] };
        row.byKernel.push({
          kernel,
          observed: observed(c.observation, program),
          predicted: predicted(c.expected, program),
          status: statusFor(c.result, program),
        });
        rows.set(key, row);
      }
    }
  }
  const out: ProgramAcrossKernels[] = [];
  for (const row of rows.values()) {
    const verdicts = new Set(row.byKernel.map((k) => k.observed.split(':')[0]));
    const kernelsDisagree = verdicts.size > 1;
    const oracleDisagrees = row.byKernel.some((k) => k.status === 'fail' || k.status === 'error');
    if (kernelsDisagree || oracleDisagrees) out.push({ ...row, kernelsDisagree, oracleDisagrees });
  }
  return out;
}

/**
 * Collects cases per runner × kernel as reporters receive them, for kernelDisagreements at the end; keeps nothing
 * when the run has one kernel (`kernels`: ReporterOptions.kernels), where there is nothing to compare.
 */
export function kernelCaseCollector(kernels: number): {
  add(r: CaseResult, p: Prediction | null, o: Observation): void;
  runs(): ReadonlyMap<string, readonly KernelCase[]>;
} {
  const runs = new Map<string, KernelCase[]>();
  return {
    add(result, expected, observation) {
      if (kernels < 2) return;
      const key = `${result.runner} ${result.kernelRelease}`;
      const cases = runs.get(key) ?? [];
      cases.push({ result, expected, observation });
      runs.set(key, cases);
    },
    runs: () => runs,
  };
}
