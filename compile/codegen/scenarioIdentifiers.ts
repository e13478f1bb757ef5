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
    ids = [
      ...s.structs.map((t) => `struct ${t.name}`),
      ...s.slots.filter((slot) => inSlotMap(slot.home)).map((slot) => `struct ${slotElemName(slot.name)}`),
      ...s.slots.map((slot) => slot.name),
      ...s.globals.map((g) => g.name),
      ...s.programs.map((p) => p.name),
    ];
    identifiers.set(s, ids);
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
