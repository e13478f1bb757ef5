import type { Scenario } from '../../types/index.ts';
import { scenarioInvalid } from './scenarioInvalid.ts';

/** License of a scenario's programs when it has none (the kfuncs need a GPL-compatible one). */
export const DEFAULT_LICENSE = 'GPL';

/**
 * The license string of the object a scenario compiles into. A BPF object has exactly one
 * `char _license[] SEC("license")`, so every program of a scenario must agree.
 */
export function licenseOf(s: Scenario): string {
  // a loop, no Set per scenario: packing and then writing each object ask this of every scenario
  const first = s.programs[0]?.license;
  for (const p of s.programs) {
    if (p.license === first) continue;
    const licenses = [...new Set(s.programs.map((q) => q.license))];
    throw scenarioInvalid(s.id, `programs disagree on the license (${licenses.join(', ')}); one object has one license`);
  }
  return first ?? DEFAULT_LICENSE;
}
