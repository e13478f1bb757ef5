/**
 * `build` answered once per key: for `chain`, whose callback would otherwise build the same arbitrary again for every
 * generated value (a scenario's plan is a tree of some hundred arbitraries). Arbitraries hold no state, so the values
 * drawn, and their shrinks, are the same. `keyOf` says when two drawn values are the same key (default: identity).
 */
export function memoised<K, A>(build: (key: K) => A, keyOf: (key: K) => unknown = (key) => key): (key: K) => A {
  const built = new Map<unknown, A>();
  return (key) => {
    const k = keyOf(key);
    let a = built.get(k);
    if (a === undefined) built.set(k, (a = build(key)));
    return a;
  };
}
