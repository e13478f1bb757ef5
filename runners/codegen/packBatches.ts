import type { Scenario } from '../../types/index.ts';
import { licenseOf } from './licenseOf.ts';
import { scenarioIdentifiers } from './scenarioIdentifiers.ts';

/**
 * Splits scenarios into batches emitBatch() accepts: greedy and in order, a new batch starts when
 * the current one is full, when the next scenario shares a file-scope identifier with it, or when
 * its license differs (one object has one license).
 */
export function packBatches(scenarios: readonly Scenario[], maxPerBatch: number): Scenario[][] {
  if (!Number.isInteger(maxPerBatch) || maxPerBatch < 1) {
    throw new RangeError(`packBatches: maxPerBatch must be a positive integer, got ${maxPerBatch}`);
  }
  const batches: Scenario[][] = [];
  let current: Scenario[] = [];
  let used = new Set<string>();
  let license: string | null = null;
  for (const s of scenarios) {
    const ids = scenarioIdentifiers(s);
    const fits =
      current.length < maxPerBatch && licenseOf(s) === license && !ids.some((id) => used.has(id));
    if (!fits && current.length > 0) {
      batches.push(current);
      current = [];
      used = new Set();
    }
    current.push(s);
    ids.forEach((id) => used.add(id));
    license = licenseOf(s);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
