import type { StructType } from '../types/index.ts';

/**
 * `f` memoised per scenario struct list (scenarios are values, their struct lists too), struct name and key: the
 * object writer and the lowering of each program ask the same layouts and field paths again and again. What throws
 * is not kept (it throws again).
 */
export function perStructs<T>(f: (structs: readonly StructType[], name: string, key: string) => T): (structs: readonly StructType[], name: string, key: string) => T {
  const memo = new WeakMap<readonly StructType[], Map<string, Map<string, T>>>();
  return (structs, name, key) => {
    let byName = memo.get(structs);
    if (byName === undefined) memo.set(structs, (byName = new Map()));
    let byKey = byName.get(name);
    if (byKey === undefined) byName.set(name, (byKey = new Map()));
    let v = byKey.get(key);
    if (v === undefined) byKey.set(key, (v = f(structs, name, key)));
    return v;
  };
}
