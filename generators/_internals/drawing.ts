import fc from 'fast-check';
import { type Draw, Drawing, DrawingArbitrary, drawOf } from './DrawingArbitrary.ts';

/**
 * The fast-check builders the generators use, as drawing arbitraries (DrawingArbitrary.ts): each is fast-check's own
 * arbitrary (generated and shrunk by fast-check) with the draw that makes the same calls to the random stream in the
 * same order (fast-check 4: IntegerArbitrary, ConstantArbitrary, FrequencyArbitrary, ArrayArbitrary, TupleArbitrary),
 * which test/unit/generators/_internals/drawing.spec.ts holds them to. `d.integer` is `fc.integer`, and so on.
 */

/** fast-check's biasNumericRange for integers: the ranges close to `min` and `max` a biased draw picks from. */
function biasedRanges(min: number, max: number): readonly { readonly min: number; readonly max: number }[] {
  const logLike = (v: number): number => Math.floor(Math.log(v) / Math.log(2));
  if (min === max) return [{ min, max }];
  if (min < 0 && max > 0) {
    const logMin = logLike(-min);
    const logMax = logLike(max);
    return [{ min: -logMin, max: logMax }, { min: max - logMax, max }, { min, max: min + logMin }];
  }
  const logGap = logLike(max - min);
  const closeToMin = { min, max: min + logGap };
  const closeToMax = { min: max - logGap, max };
  return min < 0 ? [closeToMax, closeToMin] : [closeToMin, closeToMax];
}

/** fc.integer: one time in `biasFactor`, a value from a range close to a bound. */
export function integer(c: { readonly min: number; readonly max: number }): DrawingArbitrary<number> {
  const { min, max } = c;
  const ranges = biasedRanges(min, max);
  return new Drawing(fc.integer(c), (mrng, bias) => {
    if (bias === undefined || mrng.nextInt(1, bias) !== 1) return mrng.nextInt(min, max);
    if (ranges.length === 1) return mrng.nextInt(ranges[0]!.min, ranges[0]!.max);
    const id = mrng.nextInt(-2 * (ranges.length - 1), ranges.length - 2);
    const range = (id < 0 ? ranges[0] : ranges[id + 1])!;
    return mrng.nextInt(range.min, range.max);
  });
}

/** fc.nat */
export function nat(c: { readonly max: number } = { max: 0x7fffffff }): DrawingArbitrary<number> {
  return integer({ min: 0, max: c.max });
}

/** fc.constantFrom: no draw for a single value. */
export function constantFrom<const T>(...values: readonly T[]): DrawingArbitrary<T> {
  const n = values.length;
  return new Drawing(fc.constantFrom(...values), (mrng) => values[n === 1 ? 0 : mrng.nextInt(0, n - 1)] as T);
}

/** fc.constant: no draw. */
export function constant<const T>(value: T): DrawingArbitrary<T> {
  return new Drawing(fc.constant(value), () => value);
}

/** fc.boolean: an unbiased fc.integer({ min: 0, max: 1 }). */
export function boolean(): DrawingArbitrary<boolean> {
  return new Drawing(fc.boolean(), (mrng) => mrng.nextInt(0, 1) === 1);
}

/** Options of {@link oneof} (fast-check's depth options are left out: no drawing arbitrary nests in itself). */
export interface OneofOptions {
  readonly withCrossShrink?: boolean;
}

/**
 * fc.oneof of weighted arbitraries: one draw in [0, total weight) picks the arbitrary. (fast-check lowers the bound by
 * a depth benefit, 0 outside a recursive structure.)
 */
export function oneof<T>(options: OneofOptions, ...warbs: readonly fc.WeightedArbitrary<T>[]): DrawingArbitrary<T> {
  const cumulated: number[] = [];
  let total = 0;
  for (const w of warbs) cumulated.push((total += w.weight));
  const draws = warbs.map((w) => drawOf(w.arbitrary));
  return new Drawing(fc.oneof(options, ...warbs), (mrng, bias) => {
    const selected = mrng.nextInt(0, total - 1);
    let i = 0;
    while (selected >= (cumulated[i] as number)) i++;
    return (draws[i] as Draw<T>)(mrng, bias);
  });
}

/** fc.option: `nil` one time in `freq` (a fc.oneof with cross shrinking of fc.constant(nil), weight 1, and `arb`). */
export function option<T, N>(arb: fc.Arbitrary<T>, c: { readonly freq: number; readonly nil: N }): DrawingArbitrary<T | N> {
  const { freq, nil } = c;
  const draw = drawOf(arb);
  return new Drawing(fc.option(arb, c), (mrng, bias) => (mrng.nextInt(0, freq - 1) < 1 ? nil : draw(mrng, bias)));
}

/** fc.tuple */
export function tuple<Ts extends unknown[]>(...arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> }): DrawingArbitrary<Ts> {
  const draws = (arbs as fc.Arbitrary<unknown>[]).map((a) => drawOf(a));
  const n = draws.length;
  return new Drawing(fc.tuple(...arbs) as fc.Arbitrary<Ts>, (mrng, bias) => {
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = (draws[i] as Draw<unknown>)(mrng, bias);
    return out as Ts;
  });
}

/**
 * The longest array an fc.array generates: fast-check derives it from `size`, `maxLength` and the global baseSize when
 * it builds the arbitrary (maxGeneratedLengthFromSizeForArbitrary), read from there rather than derived a second time.
 */
function maxGeneratedLength(array: fc.Arbitrary<unknown>): number {
  const max = (array as unknown as { readonly maxGeneratedLength?: unknown }).maxGeneratedLength;
  if (typeof max !== 'number') throw new Error('drawing: fast-check\'s ArrayArbitrary has no maxGeneratedLength');
  return max;
}

/**
 * How fast-check's ArrayArbitrary draws: its length unbiased, or (one time in `biasFactor`) with the items biased too,
 * or (one time in `biasFactor`²) below a biased maximum length; then `items` of that length. (No custom slices: their
 * draw is skipped, the slices being none.)
 */
function arrayDraw<T>(min: number, max: number, items: (length: number, mrng: fc.Random, itemBias: number | undefined) => T[]): Draw<T[]> {
  const biasedMax = min === max ? min : min + Math.floor(Math.log(max - min) / Math.log(2));
  return (mrng, bias) => {
    let length: number;
    let itemBias: number | undefined;
    if (bias === undefined) length = mrng.nextInt(min, max);
    else if (min === max) {
      length = mrng.nextInt(min, max);
      itemBias = bias;
    } else if (mrng.nextInt(1, bias) !== 1) length = mrng.nextInt(min, max);
    else if (mrng.nextInt(1, bias) !== 1) {
      length = mrng.nextInt(min, max);
      itemBias = bias;
    } else {
      length = mrng.nextInt(min, biasedMax);
      itemBias = bias;
    }
    return items(length, mrng, itemBias);
  };
}

/** fc.array (no custom slices, no depth identifier). */
export function array<T>(arb: fc.Arbitrary<T>, c: { readonly minLength?: number; readonly maxLength?: number; readonly size?: fc.SizeForArbitrary }): DrawingArbitrary<T[]> {
  const full = fc.array(arb, c);
  const draw = drawOf(arb);
  return new Drawing(full, arrayDraw(c.minLength ?? 0, maxGeneratedLength(full), (length, mrng, itemBias) => {
    const out = new Array<T>(length);
    for (let i = 0; i < length; i++) out[i] = draw(mrng, itemBias);
    return out;
  }));
}

/**
 * fc.uniqueArray with its default comparator (SameValue) and no selector: items are drawn until the array has its
 * length or as many in a row were already in it as the longest array generated; the whole draw again while the array
 * is shorter than `minLength` (fast-check's filter). Other comparators are drawn by generating the array.
 */
export function uniqueArray<T>(arb: fc.Arbitrary<T>, c: fc.UniqueArrayConstraintsRecommended<T, unknown>): DrawingArbitrary<T[]> {
  const full = fc.uniqueArray(arb, c);
  if ((c.comparator ?? 'SameValue') !== 'SameValue' || c.selector !== undefined) return new Drawing(full, (mrng, bias) => full.generate(mrng, bias).value_);
  const min = c.minLength ?? 0;
  // fc.uniqueArray's ArrayArbitrary has the length bounds of fc.array's (behind a filter when minLength > 0)
  const maxGenerated = maxGeneratedLength(fc.array(arb, { minLength: c.minLength, maxLength: c.maxLength, size: c.size }));
  const draw = drawOf(arb);
  const once = arrayDraw(min, maxGenerated, (length, mrng, itemBias) => {
    const out: T[] = [];
    // SameValue: a Set's SameValueZero, -0 apart (fast-check's SameValueSet)
    const seen = new Set<T>();
    let minusZero = false;
    for (let skipped = 0; out.length < length && skipped < maxGenerated;) {
      const v = draw(mrng, itemBias);
      let fresh: boolean;
      if (Object.is(v, -0)) {
        fresh = !minusZero;
        minusZero = true;
      } else {
        fresh = !seen.has(v);
        seen.add(v);
      }
      if (fresh) {
        out.push(v);
        skipped = 0;
      } else skipped++;
    }
    return out;
  });
  return new Drawing(full, (mrng, bias) => {
    for (;;) {
      const v = once(mrng, bias);
      if (v.length >= min) return v;
    }
  });
}
