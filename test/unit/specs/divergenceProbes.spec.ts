import { describe, expect, it } from 'vitest';
import { loadSelftests, loadSpec } from '../../../specs/load.ts';
import { versionInRange } from '../../../specs/versionRange.ts';

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
      expect(e?.verdict, v).toBe('rejected');
      if (d.probe.verdict === 'rejected') expect(e?.msgs, v).not.toEqual(d.probe.msgs);
    }
  });
});
