import { divergenceApplies } from '../oracle/divergenceApplies.ts';
import { divergenceHit } from '../oracle/predict.ts';
import { versionInRange } from '../specs/versionRange.ts';
import type {
  DivergenceHit, DivergenceProbeResult, Prediction, ProgramPrediction, SelftestCase, Spec, StepPrediction,
} from '../types/index.ts';
import { isRunStep } from '../types/index.ts';

/**
 * The recorded expectation of a built-in case (upstream `__msg`s, measured results) in the Prediction shape, so the
 * same comparison serves selftests and campaigns. Where a case records nothing for a kernel the oracle's answer stands.
 * Globals are recorded for the end of the schedule only, so intermediate steps predict nothing. The case's known
 * divergences explain its rejected programs (a rejects_valid one its accepted programs) where they apply to this kernel (`probes`: the session's probe results).
 */
export function expectationFromCase(c: SelftestCase, oracle: Prediction, spec: Spec, probes: readonly DivergenceProbeResult[]): Prediction {
  const version = oracle.kernelVersion;
  const programs: ProgramPrediction[] = c.scenario.programs.map((p) => {
    const rec = c.expect.programs.find((e) => e.program === p.name && versionInRange(version, e.kernels));
    const fromOracle = oracle.programs.find((x) => x.program === p.name)!;
    if (!rec) return fromOracle;
    if (rec.verdict === 'accepted') return { program: p.name, verdict: 'accepted' };
    const base = fromOracle.verdict === 'rejected' ? fromOracle.expected : null;
    return {
      program: p.name,
      verdict: 'rejected',
      expected: {
        ruleId: base?.ruleId ?? 'recorded',
        stage: base?.stage ?? 'verifier',
        // the recorded cases carry messages only: errno is not part of the upstream expectation
        errnoName: '',
        lines: rec.msgs,
      },
      alternatives: [],
    };
  });
  const accepted = new Set(programs.filter((p) => p.verdict === 'accepted').map((p) => p.program));
  const runs = c.scenario.schedule.flatMap((s, step) =>
    !isRunStep(s) ? [] : Array.from({ length: s.repeat }, (_, iteration) => ({ step, iteration, program: s.program })),
  ).filter((r) => accepted.has(r.program));
  const steps: StepPrediction[] = runs.map((r, i) => ({
    ...r,
    retval: null,
    globals: i === runs.length - 1 ? c.expect.globals : {},
    zeroFilled: [],
  }));
  const divergences: DivergenceHit[] = c.divergences.flatMap((id) => {
    const d = spec.divergences.find((x) => x.id === id);
    if (!d || !divergenceApplies(d, { version, divergences: probes })) return [];
    // a divergence explains the refusal the case expects, or (rejects_valid) the refusal of a program it expects accepted
    const on = d.kind === 'rejects_valid' ? 'accepted' : 'rejected';
    return programs.filter((p) => p.verdict === on).map((p) => divergenceHit(d, p.program, null));
  });
  return { ...oracle, programs, steps, divergences };
}
