import fc from 'fast-check';

/** A value alone, drawn from the random stream as a {@link DrawingArbitrary} draws it. */
export type Draw<T> = (mrng: fc.Random, biasFactor: number | undefined) => T;

/**
 * An arbitrary that can also draw a value alone: the very draws from the random stream, in the same order, that
 * `generate` makes, giving the same value, without the context its shrinks need (fast-check builds a Value and a
 * context object for every layer, some two hundred per scenario). A scenario's value keeps the random state it was
 * drawn from (regenerated.ts) and is generated again, with its contexts, only to be shrunk: the campaign's hot path
 * draws. `map`, `chain` and `filter` of a drawing arbitrary draw too.
 */
export abstract class DrawingArbitrary<T> extends fc.Arbitrary<T> {
  abstract draw(mrng: fc.Random, biasFactor: number | undefined): T;

  override map<U>(mapper: (t: T) => U, unmapper?: (possiblyU: unknown) => T): DrawingArbitrary<U> {
    const draw = drawOf(this);
    return new Drawing(super.map(mapper, unmapper), (mrng, bias) => mapper(draw(mrng, bias)));
  }

  /** fast-check's chain generates the source value, then the chained arbitrary's from the same stream */
  override chain<U>(chainer: (t: T) => fc.Arbitrary<U>): DrawingArbitrary<U> {
    const draw = drawOf(this);
    return new Drawing(super.chain(chainer), (mrng, bias) => drawFrom(chainer(draw(mrng, bias)), mrng, bias));
  }

  /** fast-check's filter draws again until the predicate holds */
  override filter<U extends T>(refinement: (t: T) => t is U): DrawingArbitrary<U>;
  override filter(predicate: (t: T) => boolean): DrawingArbitrary<T>;
  override filter(predicate: (t: T) => boolean): DrawingArbitrary<T> {
    const draw = drawOf(this);
    return new Drawing(super.filter(predicate), (mrng, bias) => {
      for (;;) {
        const v = draw(mrng, bias);
        if (predicate(v)) return v;
      }
    });
  }
}

/** A fast-check arbitrary (generated and shrunk as it is) with the draw that gives its values alone. */
export class Drawing<T> extends DrawingArbitrary<T> {
  constructor(
    private readonly arb: fc.Arbitrary<T>,
    readonly draw: Draw<T>,
  ) {
    super();
  }

  generate(mrng: fc.Random, biasFactor: number | undefined): fc.Value<T> {
    return this.arb.generate(mrng, biasFactor);
  }

  canShrinkWithoutContext(value: unknown): value is T {
    return this.arb.canShrinkWithoutContext(value);
  }

  shrink(value: T, context: unknown): fc.Stream<fc.Value<T>> {
    return this.arb.shrink(value, context);
  }
}

/**
 * How `arb` draws a value alone: its draw, or (any other arbitrary) its generated value. Resolved once, where the
 * arbitrary is built: a draw is a call, without asking each time what kind of arbitrary it is.
 */
export function drawOf<T>(arb: fc.Arbitrary<T>): Draw<T> {
  if (arb instanceof Drawing) return (arb as Drawing<T>).draw;
  if (arb instanceof DrawingArbitrary) return (arb as DrawingArbitrary<T>).draw.bind(arb);
  return (mrng, bias) => arb.generate(mrng, bias).value_;
}

/** A value of `arb` alone: its draw, or (any other arbitrary) its generated value. */
export function drawFrom<T>(arb: fc.Arbitrary<T>, mrng: fc.Random, biasFactor: number | undefined): T {
  return arb instanceof DrawingArbitrary ? (arb as DrawingArbitrary<T>).draw(mrng, biasFactor) : arb.generate(mrng, biasFactor).value_;
}
