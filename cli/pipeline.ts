/**
 * The only module that imports every stage: generate → predict → run → compare → report.
 * Runners never see the oracle: the Prediction reaches them as a RunPlan.
 */
import type fc from 'fast-check';
import { scenario as scenarioArb, type ScenarioConstraints } from '../generators/scenario.ts';
import { predict } from '../oracle/predict.ts';
import { statePairVocabulary } from '../oracle/statePairs.ts';
import { compare } from '../judge/compare.ts';
import { compareWithEmulator, type EmulatorComparison } from '../judge/emulatorComparison.ts';
import type { Runner } from '../runners/runner.ts';
import { kernelFeatures } from '../specs/versionRange.ts';
import type {
  CaseResult, Observation, Prediction, ProbedKernel, ProgType, RunPlan, Scenario, Spec,
} from '../types/index.ts';

export interface CheckedCase {
  readonly scenario: Scenario;
  /** what the comparison used: the oracle's prediction, or a recorded expectation (selftests) */
  readonly expected: Prediction;
  /** the oracle's own prediction (same object as `expected` in campaigns) */
  readonly oracle: Prediction;
  readonly observation: Observation;
  readonly result: CaseResult;
  /** the oracle's verdict on the recorded expectation's observation (selftests only; null in campaigns) */
  readonly oracleResult: CaseResult | null;
  /** --with-emulator: the same case on the emulator beside the kernel and the oracle (null without it, or not comparable) */
  readonly emulator: EmulatorComparison | null;
}

/** --with-emulator: the emulator runner with the profile that models the session's kernel. */
export interface EmulatorCompanion {
  readonly runner: Runner;
  readonly profile: string;
}

export interface CheckOptions {
  readonly runner: Runner;
  /** the session's kernel: the oracle predicts with its divergence probe results */
  readonly kernel: ProbedKernel;
  readonly spec: Spec;
  readonly scenarios: readonly Scenario[];
  /**
   * the oracle's predictions of `scenarios` (same order, same kernel and spec), made ahead: a campaign predicts its
   * next cases while the runner works on these (predictAhead)
   */
  readonly predicted?: readonly Prediction[];
  /** replaces the oracle's prediction as the expectation (selftests compare with upstream/measured results) */
  readonly expectationFor?: (s: Scenario, oracle: Prediction) => Prediction;
  /** verify only, execute nothing */
  readonly verifyOnly?: boolean;
  readonly onCase?: (c: CheckedCase) => void;
  /** runs every case on the emulator too, first (it is fast), and compares three ways (judge/emulatorComparison.ts) */
  readonly emulator?: EmulatorCompanion | null;
  /** stops the run (RunHooks.signal): the runner kills its children and rejects with the abort reason */
  readonly signal?: AbortSignal;
}

/**
 * The generator a campaign uses on one runner and kernel: which steps and homes that runner can carry out, aimed at
 * this kernel's state pairs (the vocabulary summary.json counts). The bench draws from the same one.
 */
export function campaignArbitrary(spec: Spec, runnerName: string, kernel: ProbedKernel, progTypes: readonly ProgType[], mode: NonNullable<ScenarioConstraints['mode']>): fc.Arbitrary<Scenario> {
  const targets = statePairVocabulary(spec, kernel, progTypes);
  // the maps' free with live objects runs in a guest only (runners/host/safety.ts hostRefusesScenario)
  const freeMapsFreq = runnerName === 'vm' ? 16 : 0;
  // two programs at once: raced in a guest, run one after the other by the emulator, never on the host
  const concurrentFreq = runnerName === 'vm' || runnerName === 'emulator' ? 32 : 0;
  // the owner's exit runs in a guest only too (hostRefusesScenario): about 1 local-storage scenario in 4 gets one
  const ownerExitFreq = runnerName === 'vm' ? 4 : 0;
  // a kernel before 6.2 has no cgroup storage
  const noCgrp = !kernelFeatures(spec, kernel.version).features.cgrp_storage;
  const homes = noCgrp ? { localStorages: ['task_storage' as const] } : {};
  return scenarioArb({ mode, progTypes: [...progTypes], nrCpus: kernel.nrCpus, targets, freeMapsFreq, concurrentFreq, ownerExitFreq, homes });
}

/** The plan a runner receives: the oracle's expected-accepted programs and whether the scenario is well-formed. */
/** The schedule's first concurrent step, or null. */
function concurrentFrom(s: Scenario): number | null {
  const i = s.schedule.findIndex((st) => 'concurrent' in st);
  return i < 0 ? null : i;
}

export function planFor(p: Prediction, execute: boolean): RunPlan {
  const hostUnsafe = p.divergences.some((d) => d.hostUnsafe);
  return {
    scenarioId: p.scenarioId,
    expectedAccepted: p.programs.filter((x) => x.verdict === 'accepted').map((x) => x.program),
    wellFormed: p.wellFormed && !hostUnsafe,
    execute,
    expectSplat: p.divergences.some((d) => d.hostUnsafe || d.splat),
    corruptsKernel: p.divergences.some((d) => d.taintsKernel === true),
  };
}

/** What the oracle predicts for `s` on a session's probed kernel. */
export function predictOn(kernel: ProbedKernel, spec: Spec, s: Scenario): Prediction {
  return predict(s, { version: kernel.version, nrCpus: kernel.nrCpus, divergences: kernel.divergences }, spec);
}

/** Predicts, runs and compares a set of scenarios on one runner/kernel; calls onCase as each observation arrives. */
export async function checkScenarios(o: CheckOptions): Promise<CheckedCase[]> {
  const oracle = new Map<string, Prediction>();
  const expected = new Map<string, Prediction>();
  const byId = new Map<string, Scenario>();
  for (const [i, s] of o.scenarios.entries()) {
    const p = o.predicted?.[i] ?? predictOn(o.kernel, o.spec, s);
    oracle.set(s.id, p);
    expected.set(s.id, o.expectationFor ? o.expectationFor(s, p) : p);
    byId.set(s.id, s);
  }
  const out: CheckedCase[] = [];
  const cases = o.scenarios.map((s) => ({ scenario: s, plan: planFor(oracle.get(s.id)!, !o.verifyOnly) }));
  const companion = o.emulator ?? null;
  const emulated = companion === null ? null : new Map((await companion.runner.run(cases, { signal: o.signal })).map((e) => [e.scenarioId, e]));
  const finish = (obs: Observation): void => {
    const scenario = byId.get(obs.scenarioId);
    if (!scenario) return;
    const exp = expected.get(obs.scenarioId)!;
    const orc = oracle.get(obs.scenarioId)!;
    const result = compare(exp, obs);
    const emu = emulated?.get(obs.scenarioId);
    const c: CheckedCase = {
      scenario, expected: exp, oracle: orc, observation: obs,
      result,
      oracleResult: exp === orc ? null : compare(orc, obs),
      emulator: emu === undefined ? null : compareWithEmulator({
        profile: companion!.profile, kernel: obs, emulator: emu, kernelResult: result, emulatorResult: compare(exp, emu),
        concurrentFrom: concurrentFrom(scenario), predicted: exp.steps,
      }),
    };
    out.push(c);
    o.onCase?.(c);
  };
  const seen = new Set<string>();
  const observations = await o.runner.run(cases, {
    onObservation: (obs) => { seen.add(obs.scenarioId); finish(obs); },
    signal: o.signal,
  });
  for (const obs of observations) if (!seen.has(obs.scenarioId)) finish(obs);
  return out;
}
