import fc from 'fast-check';
import { type Draw, DrawingArbitrary, drawOf } from './DrawingArbitrary.ts';

/** What a generated record keeps for its shrinks: its fields' values and contexts, and fc.record's prototype draw. */
class RecordContext {
  constructor(
    readonly values: readonly unknown[],
    readonly contexts: readonly unknown[],
    /** the trailing fc.boolean() of fc.record (1: a null-prototype object there; a plain one here, same JSON) */
    readonly bit: number,
  ) {}
}

function* lazily<T>(make: () => Iterable<T>): Generator<T> {
  yield* make();
}

/**
 * fc.record (tuple of the fields and a boolean, mapped to an object) as one arbitrary: the same draws from the
 * random stream and the same shrinks in the same order (each field's in turn, then the boolean's true → false),
 * with a fraction of the allocations and calls. A scenario draws some two dozen records, fast-check building five
 * Values, three arrays and a context per record. Values without this record's context (shrinking a value given from
 * outside) go to fc.record itself.
 */
class RecordArbitrary<T> extends DrawingArbitrary<T> {
  private readonly keys: readonly string[];
  private readonly arbs: readonly fc.Arbitrary<unknown>[];
  private readonly draws: readonly Draw<unknown>[];
  private original: fc.Arbitrary<T> | undefined;

  constructor(private readonly model: { readonly [K in keyof T]: fc.Arbitrary<T[K]> }) {
    super();
    this.keys = Object.keys(model);
    this.arbs = this.keys.map((k) => (model as Record<string, fc.Arbitrary<unknown>>)[k] as fc.Arbitrary<unknown>);
    this.draws = this.arbs.map((a) => drawOf(a));
  }

  generate(mrng: fc.Random, biasFactor: number | undefined): fc.Value<T> {
    // sized up front: the contexts live as long as the value (a pushed-to array keeps room for 17)
    const n = this.arbs.length;
    const values = new Array<unknown>(n);
    const contexts = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      const v = (this.arbs[i] as fc.Arbitrary<unknown>).generate(mrng, biasFactor);
      values[i] = v.value;
      contexts[i] = v.context;
    }
    // fc.boolean() is an unbiased fc.integer({ min: 0, max: 1 })
    const bit = mrng.nextInt(0, 1);
    return new fc.Value(this.build(values), new RecordContext(values, contexts, bit));
  }

  /** The same draws as generate: each field's, then the boolean's. */
  draw(mrng: fc.Random, biasFactor: number | undefined): T {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < this.keys.length; i++) o[this.keys[i] as string] = (this.draws[i] as Draw<unknown>)(mrng, biasFactor);
    mrng.nextInt(0, 1);
    return o as T;
  }

  canShrinkWithoutContext(value: unknown): value is T {
    return this.fcRecord().canShrinkWithoutContext(value);
  }

  shrink(value: T, context: unknown): fc.Stream<fc.Value<T>> {
    if (!(context instanceof RecordContext)) return this.fcRecord().shrink(value, context);
    const { values, contexts, bit } = context;
    const shrinks: Generator<fc.Value<T>>[] = this.arbs.map((arb, idx) => lazily(() => arb.shrink(values[idx], contexts[idx]).map((v) => {
      const vs = values.slice();
      const cs = contexts.slice();
      vs[idx] = v.value;
      cs[idx] = v.context;
      return new fc.Value(this.build(vs), new RecordContext(vs, cs, bit));
    })));
    if (bit === 1) shrinks.push(lazily(() => [new fc.Value(this.build(values), new RecordContext(values, contexts, 0))]));
    return fc.Stream.nil<fc.Value<T>>().join(...shrinks);
  }

  private build(values: readonly unknown[]): T {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < this.keys.length; i++) o[this.keys[i] as string] = values[i];
    return o as T;
  }

  private fcRecord(): fc.Arbitrary<T> {
    return (this.original ??= fc.record(this.model) as unknown as fc.Arbitrary<T>);
  }
}

/** fc.record(model), cheaper: see {@link RecordArbitrary}. */
export function record<T>(model: { readonly [K in keyof T]: fc.Arbitrary<T[K]> }): DrawingArbitrary<T> {
  return new RecordArbitrary(model);
}
