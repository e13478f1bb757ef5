import fc from 'fast-check';
import type { GlobalVar, ProgType, Program, Slot, StructType } from '../types/index.ts';
import { buildProgram } from './_internals/ProgramBuilder.ts';
import { record } from './_internals/record.ts';
import { structSize, scalarFieldPaths } from './_internals/structLayout.ts';
import { progType } from './progType.ts';

/** Options of {@link opSequence}: the scenario context the program lives in. */
export interface OpSequenceConstraints {
  readonly structs: readonly StructType[];
  readonly slots: readonly Slot[];
  /** @defaultValue all four */
  readonly progTypes?: readonly ProgType[];
  /** @defaultValue `'p0'` */
  readonly name?: string;
  /** @defaultValue 2 */
  readonly nrCpus?: number;
  /** Budget of chosen ops (closing ops come on top). @defaultValue 24 */
  readonly maxOps?: number;
  /** Number of the first result global (`g<n>`), so programs of one scenario do not collide. @defaultValue 0 */
  readonly firstGlobal?: number;
}

/** A generated program and the result globals its `read`/`sum` ops write. */
export interface OpSequence {
  readonly program: Program;
  readonly globals: readonly GlobalVar[];
}

/**
 * One valid-by-construction program over the given structs and slots. A state model picks each next op among those
 * legal now (lookup, new + NULL check, xchg into a slot and release the old value, RCU load + NULL check,
 * per_cpu_ptr with a constant CPU below nrCpus + NULL check, this_cpu_ptr, field writes/reads, sums over CPUs,
 * rcu lock/unlock), then the end of the choice list closes the program. Only scalar-only structs of at most
 * 512 bytes are allocated.
 *
 * @remarks Since 0.1.0
 * @public
 */
export function opSequence(c: OpSequenceConstraints): fc.Arbitrary<OpSequence> {
  const goodStructs = c.structs
    .filter((t) => t.members.every((m) => m.kind === 'scalar' || m.kind === 'struct') && scalarFieldPaths(c.structs, t.name).length > 0)
    .filter((t) => structSize(c.structs, t.name) <= 512 && !hasSpecialInside(c.structs, t))
    .map((t) => t.name);
  const ctx = { structs: c.structs, slots: c.slots, goodStructs, badStructs: {}, nrCpus: c.nrCpus ?? 2, maxOps: c.maxOps ?? 24 };
  return record({
    progType: progType({ progTypes: c.progTypes }),
    choices: fc.array(fc.nat({ max: 0xffff }), { maxLength: ctx.maxOps }),
  }).map(({ progType: t, choices }) => {
    const built = buildProgram(ctx, { name: c.name ?? 'p0', progType: t, choices, breaks: [], lenient: false }, c.firstGlobal ?? 0);
    return { program: built.program, globals: built.globals };
  });
}

function hasSpecialInside(structs: readonly StructType[], t: StructType): boolean {
  return t.members.some((m) => m.kind !== 'scalar' && (m.kind !== 'struct' || hasSpecialInside(structs, structs.find((x) => x.name === m.struct) ?? { name: '', members: [] })));
}
