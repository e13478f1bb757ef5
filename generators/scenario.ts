import fc from 'fast-check';
import type { Scenario } from '../types/index.ts';
import { BREAKABLE_RULES } from './_internals/breakVariants.ts';
import { breakingScenario, mixedScenario, validScenario } from './_internals/scenarioPlan.ts';
import { resolveSettings, type ScenarioShapeConstraints } from './_internals/settings.ts';

/** Options of {@link scenario}. */
export interface ScenarioConstraints extends ScenarioShapeConstraints {
  /**
   * `valid`: every program well-formed and host-safe by construction; `break`: exactly one rule broken once;
   * `mixed`: about half valid, half one rule broken, and a few (1 in 20) with two breaks tagged intent `mixed`.
   * @defaultValue `'mixed'`
   */
  readonly mode?: 'valid' | 'break' | 'mixed';
  /** Rules `break`/`mixed` may break. @defaultValue every rule {@link ruleBreak} knows */
  readonly rules?: readonly string[];
}

/**
 * The public entry: a whole Scenario (structs, slots, programs, schedule) with short local names (`t0`, `in0`,
 * `m0`, `p0`, `g0`, vars `v0`) and id `gen`; {@link prefixScenario} makes names unique in a batch.
 * Shrinking removes programs, ops (a shorter choice list is a shorter, still valid, program) and schedule steps.
 *
 * @remarks Since 0.1.0
 * @public
 */
export function scenario(c: ScenarioConstraints = {}): fc.Arbitrary<Scenario> {
  const s = resolveSettings('scenario', c);
  const rules = c.rules ?? BREAKABLE_RULES;
  const unknown = rules.filter((r) => !BREAKABLE_RULES.includes(r));
  if (unknown.length > 0) throw new Error(`scenario: no generator breaks ${unknown.join(', ')}`);
  const mode = c.mode ?? 'mixed';
  const valid = validScenario(s);
  if (mode === 'valid') return valid;
  if (rules.length === 0) throw new Error(`scenario: mode ${mode} needs at least one rule`);
  const broken = fc.constantFrom(...rules).chain((rule) => breakingScenario(rule, s));
  if (mode === 'break') return broken;
  const arbs = [{ arbitrary: valid, weight: 10 }, { arbitrary: broken, weight: 9 }];
  if (rules.length >= 2) arbs.push({ arbitrary: mixedScenario(rules, s), weight: 1 });
  return fc.oneof(...arbs);
}
