/** Starts task(item) for every item, in order, at most `limit` at a time; one promise per item. */
export function startInPool<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R>[] {
  let active = 0;
  const waiting: (() => void)[] = [];
  const slot = async (item: T): Promise<R> => {
    if (active >= limit) await new Promise<void>((wake) => waiting.push(wake));
    active++;
    try {
      return await task(item);
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
  return items.map(slot);
}
