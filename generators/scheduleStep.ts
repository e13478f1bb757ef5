import fc from 'fast-check';
import type { ScheduleStep } from '../types/index.ts';
import { record } from './_internals/record.ts';

/** Options of {@link scheduleStep}. */
export interface ScheduleStepConstraints {
  /** Names of the programs that may run. */
  readonly programs: readonly string[];
  /** Possible CPUs are 0..nrCpus-1. @defaultValue 2 */
  readonly nrCpus?: number;
  /** @defaultValue 3 */
  readonly maxRepeat?: number;
}

/**
 * One run step: a program, a CPU below nrCpus (the harness pins the thread there), a repeat count.
 *
 * @remarks Since 0.1.0
 * @public
 */
export function scheduleStep(c: ScheduleStepConstraints): fc.Arbitrary<ScheduleStep> {
  if (c.programs.length === 0) throw new Error('scheduleStep: no programs to schedule');
  const nrCpus = c.nrCpus ?? 2;
  if (!Number.isInteger(nrCpus) || nrCpus < 1) throw new Error(`scheduleStep: nrCpus must be a positive integer, got ${nrCpus}`);
  return record({
    program: fc.constantFrom(...c.programs),
    cpu: fc.integer({ min: 0, max: nrCpus - 1 }),
    repeat: fc.integer({ min: 1, max: c.maxRepeat ?? 3 }),
  });
}
