/**
 * A YAML/JSON value as a Scenario (types/scenario.ts), validated against specs/schema/scenario.schema.json: every
 * field, C identifiers, enums, limits, op shapes (recursively through `if.then`). Semantic references are checked by
 * checkScenarioRefs.
 */
import { KptrError } from '../errors/KptrError.ts';
import type { Scenario } from '../types/index.ts';
import { matchSchema } from './matchSchema.ts';
import { ShapeError } from './shape.ts';

export { checkScenarioRefs } from './checkScenarioRefs.ts';

/**
 * Validates `raw` as a Scenario and returns it, deeply frozen (in place).
 * @param where - names the source in the error (`scenario.yaml`, `generator s42_7`)
 * @throws KptrError KPTR_SCENARIO_INVALID: `<where>: <yaml path>: expected <what>, got <what>`
 */
export function parseScenario(raw: unknown, where: string): Scenario {
  try {
    return matchSchema<Scenario>('scenario', raw);
  } catch (error) {
    if (!(error instanceof ShapeError)) throw error;
    throw new KptrError('KPTR_SCENARIO_INVALID', `${where}: ${error.message}`, 'fix the scenario so it matches specs/schema/scenario.schema.json', { cause: error });
  }
}
