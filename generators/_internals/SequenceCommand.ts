import type { Choices } from './Choices.ts';
import type { SequenceState } from './SequenceState.ts';

/**
 * A command of the op-sequence model, shaped like fast-check's ICommand (`check(model)`, `run(model, real)`): `check`
 * says whether it applies to the state now, `run` writes its ops through the state's transitions, which move the
 * model on, taking its parameters from the choices. A command applies to a subject: a variable's handle, a slot, or
 * the program itself (`null`). Valid steps (validCommands.ts) and rule breaks (breakVariants.ts) are both commands.
 */
export interface SequenceCommand<X = null> {
  /** what it does, in the kernel's words where the kernel has them (`bpf_per_cpu_ptr`); a break's is in the description */
  readonly name: string;
  /** its share among the commands that apply now: a number, or one per subject */
  readonly weight: number | ((st: SequenceState, x: X) => number);
  check(st: SequenceState, x: X): boolean;
  run(st: SequenceState, choices: Choices, x: X): void;
}

/** The weight of `command` on `x`. */
export function weightOf<X>(command: SequenceCommand<X>, st: SequenceState, x: X): number {
  const w = command.weight;
  return typeof w === 'number' ? w : w(st, x);
}

/**
 * The option `choice` lands on when option i covers weights[i] consecutive values, counted modulo the total (-1 when
 * there is none): how a choice selects among the commands that apply, in the order they are listed.
 */
export function weightedIndex(weights: readonly number[], count: number, choice: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += weights[i] as number;
  let c = choice % Math.max(total, 1);
  for (let i = 0; i < count; i++) {
    const w = weights[i] as number;
    if (c < w) return i;
    c -= w;
  }
  return -1;
}
