import type fc from 'fast-check';
import type { Scenario } from '../types/index.ts';
import { BREAKABLE_RULES } from './_internals/breakVariants.ts';
import { breakingScenario } from './_internals/scenarioPlan.ts';
import { resolveSettings, type ScenarioShapeConstraints } from './_internals/settings.ts';

export { BREAKABLE_RULES };

/** Options of {@link ruleBreak}. */
export type RuleBreakConstraints = ScenarioShapeConstraints;

/**
 * Scenarios that break exactly one rule (`intent: { kind: 'break', rule }`), once, in one program: a valid prefix,
 * the offending op (with the setup it needs: an owned object, an RCU pointer, a refused struct...), then a valid
 * continuation that releases everything. Every rule id of the rule table is covered except kfunc.absent,
 * kfunc.prog_type, attach.not_sleepable and local_storage.prog_type, which come from the kernel and the program type,
 * not from the program.
 * The description names the variant (`percpu_ptr.bad_arg/after_unlock in p1`).
 *
 * @remarks Since 0.1.0
 * @public
 */
export function ruleBreak(rule: string, c: RuleBreakConstraints = {}): fc.Arbitrary<Scenario> {
  if (!BREAKABLE_RULES.includes(rule)) {
    throw new Error(`ruleBreak: no generator breaks rule ${rule}; known: ${BREAKABLE_RULES.join(', ')}`);
  }
  return breakingScenario(rule, resolveSettings('ruleBreak', c));
}
