import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateValues } from '../../../../campaign/shrink.ts';
import { regenerated } from '../../../../generators/_internals/regenerated.ts';

/** Chain, option, array and map: arbitraries whose shrinks depend on their context, random state included. */
const arb = fc.record({
  n: fc.integer({ min: 0, max: 50 }),
  xs: fc.array(fc.option(fc.nat({ max: 9 }), { freq: 3 })),
}).chain((r) => fc.tuple(fc.constant(r), fc.array(fc.integer(), { maxLength: r.n })).map(([a, b]) => ({ ...a, b })));

/** The first `depth` levels of the shrink tree of `v`, `width` candidates each, as a flat list. */
function tree<T>(a: fc.Arbitrary<T>, v: fc.Value<T>, width: number, depth: number): unknown[] {
  if (depth === 0) return [];
  const out: unknown[] = [];
  for (const s of a.shrink(v.value_, v.context).take(width)) out.push(s.value_, tree(a, s, width, depth - 1));
  return out;
}

describe('regenerated', () => {
  it('should draw the same values and shrink them the same way, keeping only a random state per value', () => {
    const ours = [...generateValues(regenerated(arb), 7, 40)];
    const theirs = [...generateValues(arb, 7, 40)];
    expect(ours.map((v) => v.value_)).toEqual(theirs.map((v) => v.value_));
    ours.forEach((v, i) => expect(tree(regenerated(arb), v, 4, 3)).toEqual(tree(arb, theirs[i]!, 4, 3)));
  });

  it('should shrink a value given from outside as the arbitrary itself does', () => {
    const a = fc.array(fc.nat({ max: 9 }));
    expect([...regenerated(a).shrink([5, 3], undefined)].map((v) => v.value_)).toEqual([...a.shrink([5, 3], undefined)].map((v) => v.value_));
  });
});
