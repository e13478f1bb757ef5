import { inSlotMap, type Scenario } from '../../types/index.ts';

/**
 * The file-scope C identifiers a scenario defines when emitted, each once, in emission order.
 * Struct tags live in their own C namespace and are listed as `struct <tag>`; ordinary
 * identifiers (maps, globals, programs) as plain names. Two scenarios can share one
 * translation unit exactly when their lists are disjoint.
 */
export function scenarioIdentifiers(s: Scenario): readonly string[] {
  let ids = identifiers.get(s);
  if (ids === undefined) {
    // one list filled in order by loops (spreads of a map and a filter per kind were a share of packing every batch)
    const out: string[] = [];
    for (const t of s.structs) out.push(`struct ${t.name}`);
    for (const slot of s.slots) if (inSlotMap(slot.home)) out.push(`struct ${slotElemName(slot.name)}`);
    for (const slot of s.slots) out.push(slot.name);
    for (const g of s.globals) out.push(g.name);
    for (const p of s.programs) out.push(p.name);
    identifiers.set(s, (ids = out));
  }
  return ids;
}

/** per scenario (scenarios are values): packBatches and then the object's writer both ask */
const identifiers = new WeakMap<Scenario, readonly string[]>();

/** Tag of the map value struct of a map-home slot: `struct <slot>_elem { long sum; ... *pc; }`. */
export function slotElemName(slot: string): string {
  return `${slot}_elem`;
}

/** Section of a global-home slot: `.bss.<slot>` or `.data.<slot>`, one per slot (see emitSlots). */
export function globalSlotSection(slot: string, section: 'bss' | 'data'): string {
  return `.${section}.${slot}`;
}
