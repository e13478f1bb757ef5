import type { Scenario } from '../../types/index.ts';
import type { GuestUnit } from './settleBoot.ts';

export interface UnitRules {
  /** scenarios that get a harness run of their own, in their place (test hooks, a unit split after a death) */
  readonly alone: (s: Scenario) => boolean;
  /** scenarios that run after all others (their kernel is known to splat for them) */
  readonly last: (s: Scenario) => boolean;
}

/**
 * The harness runs of one boot (pure). Object by object, in order of first appearance, the scenarios of one object
 * share a run in pending order; an `alone` scenario splits it and gets a run of its own in its place. `last`
 * scenarios are grouped the same way after everything else, so a splat their teardown prints late can only land on
 * one of them.
 */
export function guestUnits(pending: readonly Scenario[], objectOf: ReadonlyMap<string, string>, rules: UnitRules): GuestUnit[] {
  const units = [
    ...byObject(pending.filter((s) => !rules.last(s)), objectOf, rules.alone),
    ...byObject(pending.filter(rules.last), objectOf, rules.alone),
  ];
  return units.map((scenarios, i) => ({ id: `u${i}`, scenarios }));
}

function byObject(scenarios: readonly Scenario[], objectOf: ReadonlyMap<string, string>, alone: (s: Scenario) => boolean): Scenario[][] {
  const groups = new Map<string, Scenario[]>();
  for (const s of scenarios) {
    const object = objectOf.get(s.id) as string;
    const group = groups.get(object) ?? [];
    group.push(s);
    groups.set(object, group);
  }
  const units: Scenario[][] = [];
  for (const group of groups.values()) {
    let shared: Scenario[] | null = null;
    for (const s of group) {
      if (alone(s)) {
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
  return units;
}
