import { describe, expect, it } from 'vitest';
import { loadSelftests, loadSpec } from '../../../specs/load.ts';
import { versionInRange } from '../../../specs/versionRange.ts';
import { probedFeatures } from '../../../cli/divergenceProbes.ts';
import { loadProfile, withFeatures } from '../../../emulator/verifier/profile.ts';
import type { DivergenceProbeResult, ProbeStatus } from '../../../types/index.ts';

const spec = loadSpec();
const cases = loadSelftests(undefined, spec);

describe('divergence probes (specs/divergences/*.yaml probe)', () => {
  const probed = spec.divergences.flatMap((d) => (d.kind === 'value' ? [] : [[d.id, d] as const]));

  it('should give every verifier divergence a probe and none to a value divergence', () => {
    expect(probed.map(([id]) => id).sort()).toEqual(spec.divergences.filter((d) => d.kind !== 'value').map((d) => d.id).sort());
    expect(probed.length).toBeGreaterThan(0);
  });

  it.each(probed)('%s probes a built-in case that lists it, with a verdict the correct kernel never gives', (_id, d) => {
    const c = cases.find((x) => x.scenario.id === d.probe.case);
    expect(c, d.probe.case).toBeDefined();
    expect(c!.scenario.programs.map((p) => p.name)).toContain(d.probe.program);
    expect(c!.divergences).toContain(d.id);
    // on every kernel the divergence's range names, the case records the correct kernel's refusal: the probe is the other outcome
    const upper = ['6.7', '6.12.117', '6.18.44', '7.3.4'].filter((v) => versionInRange(v, d.kernels));
    for (const v of upper) {
      const e = c!.expect.programs.find((x) => x.program === d.probe.program && versionInRange(v, x.kernels));
      expect(e?.verdict, v).toBe(d.kind === 'rejects_valid' ? 'accepted' : 'rejected');
      if (d.probe.verdict === 'rejected') expect(e?.msgs, v).not.toEqual(d.probe.msgs);
    }
  });
});

describe('probedFeatures (a probed kernel\'s emulator features)', () => {
  const modelled = spec.divergences.filter((d) => d.emulatorFeature !== null);
  const probe = (status: ProbeStatus) => spec.divergences.map((d): DivergenceProbeResult => ({ divergenceId: d.id, status, kernels: d.kernels, inRange: true, detail: '' }));

  it('should name a boolean feature of the emulator profiles for every divergence that has one', () => {
    expect(modelled.length).toBeGreaterThan(0);
    const features = loadProfile('6.18').features as unknown as Record<string, unknown>;
    for (const d of modelled) expect(typeof features[d.emulatorFeature!.name], d.id).toBe('boolean');
  });

  it('should set each feature to its value when shown, the opposite when absent, and leave unprobed ones alone', () => {
    const shown = probedFeatures(spec, probe('shown'));
    const absent = probedFeatures(spec, probe('absent'));
    for (const d of modelled) {
      expect(shown[d.emulatorFeature!.name], d.id).toBe(d.emulatorFeature!.whenShown);
      expect(absent[d.emulatorFeature!.name], d.id).toBe(!d.emulatorFeature!.whenShown);
    }
    expect(probedFeatures(spec, probe('unprobed'))).toEqual({});
  });

  it('should give the emulator a backported fix under an unchanged version: 6.18.44 with plain_obj_into_percpu absent refuses it', () => {
    const profile = loadProfile('6.18.44');
    expect(profile.features.reject_plain_into_percpu).toBe(false);
    const absent = spec.divergences.map((d): DivergenceProbeResult => ({ divergenceId: d.id, status: d.id === 'plain_obj_into_percpu' ? 'absent' : 'unprobed', kernels: d.kernels, inRange: true, detail: '' }));
    expect(withFeatures(profile, probedFeatures(spec, absent)).features.reject_plain_into_percpu).toBe(true);
    expect(() => withFeatures(profile, { no_such_feature: true })).toThrow(/not a boolean feature/);
  });
});
