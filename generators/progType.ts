import type fc from 'fast-check';
import * as d from './_internals/drawing.ts';
import type { ProgType } from '../types/index.ts';

/** The four program types the codegen emits (`SEC("?tc")`, `?syscall`, `?fentry/…`, `?fentry.s/…`). */
export const ALL_PROG_TYPES: readonly ProgType[] = ['tc', 'syscall', 'fentry', 'fentry.s'];

/** Options of {@link progType}. */
export interface ProgTypeConstraints {
  /** Program types to draw from. @defaultValue {@link ALL_PROG_TYPES} */
  readonly progTypes?: readonly ProgType[];
}

/**
 * A program type (shrinks towards the first one listed).
 *
 * @remarks Since 0.1.0
 * @public
 */
export function progType(c: ProgTypeConstraints = {}): fc.Arbitrary<ProgType> {
  const types = c.progTypes ?? ALL_PROG_TYPES;
  if (types.length === 0) throw new Error('progType: progTypes is empty');
  return d.constantFrom(...types);
}
