import { KptrError } from '../errors/KptrError.ts';
import { judgeProbe } from '../judge/judgeProbe.ts';
import type { RunCase, Runner } from '../runners/runner.ts';
import { loadSelftests } from '../specs/load.ts';
import { versionInRange } from '../specs/versionRange.ts';
import type { DivergenceProbeResult, KernelInfo, ProgType, Spec } from '../types/index.ts';
import { retargetProgTypes } from './retarget.ts';

export interface ProbeOptions {
  readonly runner: Runner;
  readonly kernel: KernelInfo;
  /** program types the runner loads here: probes of other types run as their stand-ins (cli/retarget.ts) */
  readonly available: Readonly<Record<ProgType, boolean>>;
  readonly spec: Spec;
  /** RunHooks.signal: a stopping command does not wait for the probe run (a vm boot) */
  readonly signal?: AbortSignal;
}

const cache = new WeakMap<Spec, Map<string, Promise<readonly DivergenceProbeResult[]>>>();

/**
 * Which known divergences this kernel shows, by behaviour: every divergence probe of the spec (the program of a
 * built-in case that the divergence makes the kernel treat wrongly) verified in one batch, never executed, so it is
 * host-safe. One result per spec divergence, in spec order; value divergences are `unprobed`. Measured once per
 * runner and kernel release in a process.
 * @throws KptrError KPTR_SPEC_INVALID when a probe names a case or program the built-in cases lack
 */
export function probeDivergences(o: ProbeOptions): Promise<readonly DivergenceProbeResult[]> {
  let byKernel = cache.get(o.spec);
  if (!byKernel) {
    byKernel = new Map();
    cache.set(o.spec, byKernel);
  }
  const key = `${o.runner.name} ${o.kernel.release}`;
  let results = byKernel.get(key);
  if (!results) {
    results = measure(o);
    byKernel.set(key, results);
    // a failed probe run is not remembered: the next session tries again
    results.catch(() => byKernel.delete(key));
  }
  return results;
}

/**
 * The emulator profile features a probed kernel's results decide (Divergence.emulatorFeature): a divergence shown sets
 * its feature to `whenShown`, one absent to the opposite; unprobed ones leave the profile as it is.
 */
export function probedFeatures(spec: Spec, probes: readonly DivergenceProbeResult[]): Record<string, boolean> {
  const features: Record<string, boolean> = {};
  for (const d of spec.divergences) {
    const status = probes.find((p) => p.divergenceId === d.id)?.status;
    if (d.emulatorFeature === null || status === undefined || status === 'unprobed') continue;
    features[d.emulatorFeature.name] = status === 'shown' ? d.emulatorFeature.whenShown : !d.emulatorFeature.whenShown;
  }
  return features;
}

async function measure(o: ProbeOptions): Promise<readonly DivergenceProbeResult[]> {
  const cases = loadSelftests(undefined, o.spec);
  const probed: RunCase[] = [];
  for (const d of o.spec.divergences) {
    if (d.kind === 'value' || probed.some((c) => c.scenario.id === d.probe.case)) continue;
    const c = cases.find((x) => x.scenario.id === d.probe.case);
    if (!c || !c.scenario.programs.some((p) => p.name === d.probe.program)) {
      throw new KptrError(
        'KPTR_SPEC_INVALID',
        `specs/divergences/${d.id}.yaml: probe names ${c ? `program '${d.probe.program}' of case` : 'case'} '${d.probe.case}', which the built-in cases lack`,
        'point probe.case and probe.program at a scenario id and program of specs/selftests/*.yaml',
      );
    }
    const scenario = retargetProgTypes(c.scenario, o.available);
    probed.push({
      scenario,
      plan: { scenarioId: scenario.id, expectedAccepted: [], wellFormed: false, execute: false, expectSplat: d.hostUnsafe || d.splat, corruptsKernel: d.taintsKernel },
    });
  }
  const observations = await o.runner.run(probed, { signal: o.signal });
  return o.spec.divergences.map((d): DivergenceProbeResult => {
    const base = { divergenceId: d.id, kernels: d.kernels, inRange: versionInRange(o.kernel.version, d.kernels) };
    if (d.kind === 'value') return { ...base, status: 'unprobed', detail: 'a value divergence: it shows only when programs run, and probes never execute' };
    const obs = observations.find((x) => x.scenarioId === d.probe.case);
    return { ...base, ...(obs ? judgeProbe(d.probe, obs) : { status: 'unprobed', detail: 'the runner returned no observation for the probe' }) };
  });
}
