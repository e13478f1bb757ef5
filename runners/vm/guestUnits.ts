import type { Scenario } from '../../types/index.ts';
import type { GuestUnit } from './settleBoot.ts';

export interface UnitRules {
  /** scenarios that get a harness run of their own, in their place (test hooks, a unit split after a death) */
  readonly alone: (s: Scenario) => boolean;
  /**
   * when a scenario runs: all of tier 0, then all of tier 1, ... (1: its kernel is known to splat for it; 2: a
   * known divergence of it may corrupt the kernel)
   */
  readonly tier: (s: Scenario) => number;
}

/**
 * The harness runs of one boot (pure). Object by object, in order of first appearance, the scenarios of one object
 * share a run in pending order; an `alone` scenario splits it and gets a run of its own in its place. Each tier is
 * grouped the same way after the tiers below it: a splat that a teardown prints late can only land on a scenario
 * expected to splat, and what a host-unsafe scenario breaks (a per-CPU allocator's free lists) only on one like it,
 * whose death its divergence explains.
 */
/**
 * The scenarios of the next boot and those left for later boots (pure): every pending scenario but the ones that
 * corrupt the kernel (RunPlan.corruptsKernel), of which only the first comes along (it runs last, tier 2). What one
 * breaks (a per-CPU allocator's free lists, after a plain object was freed through it) then meets no other case: in
 * a 6.18.15 guest, plain_obj_into_percpu cases run before others made their valid programs oops.
 */
export function bootShare(pending: readonly Scenario[], corrupting: ReadonlySet<string>): { now: Scenario[]; later: Scenario[] } {
  const first = pending.find((s) => corrupting.has(s.id));
  return {
    now: pending.filter((s) => !corrupting.has(s.id) || s === first),
    later: pending.filter((s) => corrupting.has(s.id) && s !== first),
  };
}

export function guestUnits(pending: readonly Scenario[], objectOf: ReadonlyMap<string, string>, rules: UnitRules): GuestUnit[] {
  const tiers = [...new Set(pending.map(rules.tier))].sort((a, b) => a - b);
  const units = tiers.flatMap((t) => byObject(pending.filter((s) => rules.tier(s) === t), objectOf, rules.alone));
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
