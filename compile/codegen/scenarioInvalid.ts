import { KptrError } from '../../errors/KptrError.ts';

/**
 * The error for a Scenario that cannot be turned into C (unknown names, identifier collisions,
 * mixed licenses). It is a generator bug, not a kernel verdict, so it is an exception.
 */
export function scenarioInvalid(scenarioId: string, message: string): KptrError {
  return new KptrError(
    'KPTR_SCENARIO_INVALID',
    `scenario ${scenarioId}: ${message}`,
    'the scenario does not describe a C program; report it with its origin (seed and path) so the generator can be fixed',
  );
}
