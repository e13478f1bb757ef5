import type { Scenario } from '../../types/index.ts';
import { scenarioInvalid } from './scenarioInvalid.ts';

/** License of a scenario's programs when it has none (the kfuncs need a GPL-compatible one). */
export const DEFAULT_LICENSE = 'GPL';

/**
 * The license string of the object a scenario compiles into. A BPF object has exactly one
 * `char _license[] SEC("license")`, so every program of a scenario must agree.
 */
export function licenseOf(s: Scenario): string {
  const licenses = [...new Set(s.programs.map((p) => p.license))];
  if (licenses.length > 1) {
    throw scenarioInvalid(s.id, `programs disagree on the license (${licenses.join(', ')}); one object has one license`);
  }
  return licenses[0] ?? DEFAULT_LICENSE;
}
