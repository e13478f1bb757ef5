import type { Scenario } from '../../types/index.ts';
import { licenseOf } from './licenseOf.ts';
import { scenarioIdentifiers } from './scenarioIdentifiers.ts';

interface OpenBatch {
  readonly scenarios: Scenario[];
  readonly used: Set<string>;
}

/**
 * Splits scenarios into batches emitBatch() accepts. One object has one license, so one batch is open per
 * license: a scenario joins its license's open batch in input order, and that batch closes when it is full or
 * when the scenario shares a file-scope identifier with it. Keeping a batch open across other licenses matters
 * for speed: every object costs a clang start (~40 ms) and a BTF load, and campaigns mix in non-GPL programs.
 * Batches come out in the order they close, then the still-open ones in the order they opened.
 */
export function packBatches(scenarios: readonly Scenario[], maxPerBatch: number): Scenario[][] {
  if (!Number.isInteger(maxPerBatch) || maxPerBatch < 1) {
    throw new RangeError(`packBatches: maxPerBatch must be a positive integer, got ${maxPerBatch}`);
  }
  const batches: Scenario[][] = [];
  const open = new Map<string, OpenBatch>();
  for (const s of scenarios) {
    const license = licenseOf(s);
    const ids = scenarioIdentifiers(s);
    let batch = open.get(license);
    if (batch && (batch.scenarios.length >= maxPerBatch || ids.some((id) => batch!.used.has(id)))) {
      batches.push(batch.scenarios);
      open.delete(license);
      batch = undefined;
    }
    if (!batch) {
      batch = { scenarios: [], used: new Set() };
      open.set(license, batch);
    }
    batch.scenarios.push(s);
    ids.forEach((id) => batch!.used.add(id));
  }
  for (const b of open.values()) batches.push(b.scenarios);
  return batches;
}
