import fc from 'fast-check';
import { DrawingArbitrary } from './DrawingArbitrary.ts';

/** What a value keeps for its shrinks: the random state it was drawn from and the bias it was drawn with. */
class DrawnFrom {
  constructor(
    readonly mrng: fc.Random,
    readonly biasFactor: number | undefined,
  ) {}
}

/**
 * `arb` whose values keep, instead of the context their shrinks need, the random state they were drawn from: shrinking
 * draws the value again (drawing is a pure function of that state and the bias) and shrinks it with the context it
 * comes with, so the shrinks are the very same. A scenario's context is a tree of some two hundred objects (about
 * 24 kB), which a campaign holds for every case of a slice in flight and almost never uses; a random state is two
 * objects. A drawing arbitrary (DrawingArbitrary.ts) then only draws the value: the contexts are made when it is
 * shrunk, if ever. Values without this context (shrinking a value given from outside) go to `arb` itself.
 */
class RegeneratedArbitrary<T> extends fc.Arbitrary<T> {
  constructor(private readonly arb: fc.Arbitrary<T>) {
    super();
  }

  generate(mrng: fc.Random, biasFactor: number | undefined): fc.Value<T> {
    const from = new DrawnFrom(mrng.clone(), biasFactor);
    // the value alone (its context is made only to shrink it)
    if (this.arb instanceof DrawingArbitrary) return new fc.Value((this.arb as DrawingArbitrary<T>).draw(mrng, biasFactor), from);
    const v = this.arb.generate(mrng, biasFactor);
    // a value cloned on every read keeps its own context (a scenario is plain data: never)
    return v.hasToBeCloned ? v : new fc.Value(v.value_, from);
  }

  canShrinkWithoutContext(value: unknown): value is T {
    return this.arb.canShrinkWithoutContext(value);
  }

  shrink(value: T, context: unknown): fc.Stream<fc.Value<T>> {
    if (!(context instanceof DrawnFrom)) return this.arb.shrink(value, context);
    const again = this.arb.generate(context.mrng.clone(), context.biasFactor);
    return this.arb.shrink(again.value_, again.context);
  }
}

/** `arb`, its values keeping the random state they were drawn from as their context: see {@link RegeneratedArbitrary}. */
export function regenerated<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return new RegeneratedArbitrary(arb);
}
