import type { Scenario } from '../../types/index.ts';
import type { GuestUnit } from './settleBoot.ts';

export interface UnitRules {
  /** scenarios that get a harness run of their own, in their place (test hooks, a unit split after a death) */
  readonly alone: (s: Scenario) => boolean;
  /** scenarios that run after all others, each alone (their kernel is known to splat for them) */
  readonly last: (s: Scenario) => boolean;
}

/**
 * The harness runs of one boot (pure). Object by object, in order of first appearance, the scenarios of one object
 * share a run in pending order; an `alone` scenario splits it and gets a run of its own in its place; `last`
 * scenarios come after everything else, one run each.
 */
export function guestUnits(pending: readonly Scenario[], objectOf: ReadonlyMap<string, string>, rules: UnitRules): GuestUnit[] {
  const byObject = new Map<string, Scenario[]>();
  for (const s of pending.filter((x) => !rules.last(x))) {
    const object = objectOf.get(s.id) as string;
    byObject.set(object, [...(byObject.get(object) ?? []), s]);
  }
  const units: Scenario[][] = [];
  for (const scenarios of byObject.values()) {
    let shared: Scenario[] | null = null;
    for (const s of scenarios) {
      if (rules.alone(s)) {
        units.push([s]);
        shared = null;
      } else if (shared) {
        shared.push(s);
      } else {
        shared = [s];
        units.push(shared);
      }
    }
  }
  units.push(...pending.filter(rules.last).map((s) => [s]));
  return units.map((scenarios, i) => ({ id: `u${i}`, scenarios }));
}
