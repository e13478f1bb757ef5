import fc from 'fast-check';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { describe, expect, it } from 'vitest';
import type { DrawingArbitrary } from '../../../../generators/_internals/DrawingArbitrary.ts';
import * as d from '../../../../generators/_internals/drawing.ts';
import { record } from '../../../../generators/_internals/record.ts';

/** Each builder, alone and nested, with bounds of every sign and length limits from the size and from maxLength. */
const cases: Record<string, DrawingArbitrary<unknown>> = {
  'integer': d.integer({ min: 0, max: 100 }),
  'integer, one value': d.integer({ min: 3, max: 3 }),
  'integer, negative': d.integer({ min: -8, max: 64 }),
  'integer, below zero': d.integer({ min: -90, max: -7 }),
  'nat': d.nat(),
  'nat, max': d.nat({ max: 0xffff }),
  'constantFrom': d.constantFrom('a', 'b', 'c'),
  'constantFrom, one value': d.constantFrom('a'),
  'constant': d.constant({ k: 1 }),
  'boolean': d.boolean(),
  'oneof': d.oneof({}, { arbitrary: d.nat({ max: 9 }), weight: 3 }, { arbitrary: d.constant(-1), weight: 1 }),
  'oneof, cross shrink': d.oneof({ withCrossShrink: true }, { arbitrary: d.constant(null), weight: 5 }, { arbitrary: d.boolean(), weight: 2 }),
  'option': d.option(d.integer({ min: 1, max: 4 }), { freq: 4, nil: null }),
  'tuple': d.tuple(d.nat({ max: 3 }), d.boolean(), d.constantFrom('x', 'y')),
  'array': d.array(d.nat({ max: 0xffff }), { maxLength: 24 }),
  'array, min length': d.array(d.boolean(), { minLength: 1, maxLength: 6 }),
  'array, fixed length': d.array(d.nat({ max: 5 }), { minLength: 3, maxLength: 3 }),
  'array, size max': d.array(d.nat({ max: 5 }), { maxLength: 30, size: 'max' }),
  'array, of fast-check arbitraries': d.array(fc.nat({ max: 9 }), { maxLength: 5 }),
  'uniqueArray': d.uniqueArray(d.integer({ min: 1, max: 9 }), { minLength: 2, maxLength: 2 }),
  'uniqueArray, few values (repeats skipped, short arrays drawn again)': d.uniqueArray(d.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 5 }),
  'uniqueArray, no min length, -0 and 0 apart': d.uniqueArray(d.constantFrom(0, -0, 1, Number.NaN), { maxLength: 4 }),
  'uniqueArray, of constants': d.uniqueArray(d.constantFrom('a', 'b', 'c'), { minLength: 2, maxLength: 2 }),
  'uniqueArray, size max': d.uniqueArray(d.nat({ max: 40 }), { maxLength: 30, size: 'max' }),
  'uniqueArray, SameValueZero (generated)': d.uniqueArray(d.constantFrom(0, -0, 1), { maxLength: 3, comparator: 'SameValueZero' }),
  'uniqueArray, SameValue given': d.uniqueArray(d.constantFrom(0, -0, 1), { maxLength: 3, comparator: 'SameValue' }),
  'record': record({ a: d.nat({ max: 9 }), b: d.array(d.boolean(), { maxLength: 4 }), c: fc.integer({ min: 0, max: 3 }) }),
  'map': d.nat({ max: 20 }).map((n) => `n${n}`),
  'chain': d.integer({ min: 0, max: 4 }).chain((n) => d.array(d.constant(n), { maxLength: n })),
  'filter': d.nat({ max: 50 }).filter((n) => n % 3 === 0),
};

describe('drawing arbitraries', () => {
  it.each(Object.keys(cases))('%s: draws what it generates, from the same draws of the random stream', (name) => {
    const arb = cases[name]!;
    for (let seed = 1; seed <= 60; seed++) {
      for (const bias of [undefined, 2, 3, 5]) {
        const drawing = new fc.Random(xoroshiro128plus(seed));
        const generating = new fc.Random(xoroshiro128plus(seed));
        for (let i = 0; i < 5; i++) {
          expect(arb.draw(drawing, bias)).toEqual(arb.generate(generating, bias).value);
          expect(drawing.getState()).toEqual(generating.getState());
        }
      }
    }
  });
});
