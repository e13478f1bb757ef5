import fc from 'fast-check';
import type { Scenario, StatePairTarget } from '../types/index.ts';
import { BREAKABLE_RULES } from './_internals/breakVariants.ts';
import { breakableWith, breakingScenario, mixedScenario, targetedScenario, validScenario } from './_internals/scenarioPlan.ts';
import { resolveSettings, type ScenarioShapeConstraints } from './_internals/settings.ts';
import { memoised } from './_internals/memoised.ts';
import * as d from './_internals/drawing.ts';
import { regenerated } from './_internals/regenerated.ts';

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
  /**
   * State pairs to aim at (a kernel's vocabulary, oracle/statePairs.ts): about one scenario in four picks one and
   * reaches it first thing in its first program. `valid` mode aims only at allowed pairs. @defaultValue none
   */
  readonly targets?: readonly StatePairTarget[];
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
  const unknown = (c.rules ?? []).filter((r) => !BREAKABLE_RULES.includes(r));
  if (unknown.length > 0) throw new Error(`scenario: no generator breaks ${unknown.join(', ')}`);
  const rules = breakableWith(c.rules ?? BREAKABLE_RULES, s);
  const mode = c.mode ?? 'mixed';
  const untargeted = unaimed(mode, rules, s);
  const targets = (c.targets ?? []).filter((t) => s.progTypes.includes(t.progType) && (mode !== 'valid' || t.allowed) && (t.allowed || breakableWith([t.rule as string], s).length > 0));
  if (targets.length === 0) return regenerated(untargeted);
  // The target is drawn from the case's own random stream, so it is a function of (seed, case index) alone, never of
  // the coverage seen so far: --resume, --shard k/n and replay by seed and index then generate the very same cases,
  // and merged shards count what the unsharded run counts. Drawn uniformly, a 10,000-case campaign aims at each
  // pair of a ~400-pair vocabulary about six times.
  const targeted = d.constantFrom(...targets).chain(memoised((t) => targetedScenario(t, mode, rules, s)));
  return regenerated(d.oneof({}, { arbitrary: untargeted, weight: 3 }, { arbitrary: targeted, weight: 1 }));
}

function unaimed(mode: 'valid' | 'break' | 'mixed', rules: readonly string[], s: ReturnType<typeof resolveSettings>): fc.Arbitrary<Scenario> {
  const valid = validScenario(s);
  if (mode === 'valid') return valid;
  if (rules.length === 0) throw new Error(`scenario: mode ${mode} needs at least one rule`);
  const broken = d.constantFrom(...rules).chain(memoised((rule) => breakingScenario(rule, s)));
  if (mode === 'break') return broken;
  const arbs = [{ arbitrary: valid, weight: 10 }, { arbitrary: broken, weight: 9 }];
  if (rules.length >= 2) arbs.push({ arbitrary: mixedScenario(rules, s), weight: 1 });
  return d.oneof({}, ...arbs);
}
