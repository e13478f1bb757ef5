import type fc from 'fast-check';
import * as d from './_internals/drawing.ts';
import { memoised } from './_internals/memoised.ts';
import { record } from './_internals/record.ts';
import type { MapOpStep } from '../types/index.ts';
import { MAP_BATCH_MAX, MAP_OP_KINDS, MAP_UPDATE_FLAGS } from '../specs/vocabulary.ts';

/** Options of {@link mapOpStep}. */
export interface MapOpStepConstraints {
  /** Names of the map-home slots whose maps the operation may touch. */
  readonly slots: readonly string[];
}

/**
 * One userspace map operation (types/mapOp.ts) on the map of one of `slots`: any operation, key 0 (the element
 * programs use) two times in three, else key 1 (missing, past max_entries, or on an LRU map the key whose insert
 * evicts key 0: eviction pressure), any update flag, a small `sum`.
 * Valid and invalid alike: BPF_NOEXIST on an existing element, BPF_EXIST on a missing one, a delete of an array
 * element or a full hash map fail with the errno their contract (specs/ops/map) names, which the oracle predicts.
 * Batch forms take up to MAP_BATCH_MAX such keys (a key may repeat: the batch stops at the first failure) or a
 * lookup `count` in [0, MAP_BATCH_MAX]; BPF_NOEXIST and BPF_EXIST in a batch update's elem_flags are its invalid case.
 * An update, lookup, lookup_and_delete, update_batch, lookup_batch or lookup_and_delete_batch passes BPF_F_LOCK (`lock: true`) one time
 * in two; on a value without a spin lock that is EINVAL (the scenario decides where it keeps such a step).
 *
 * @remarks Since 0.2.0
 * @public
 */
export function mapOpStep(c: MapOpStepConstraints): fc.Arbitrary<MapOpStep> {
  if (c.slots.length === 0) throw new Error('mapOpStep: no map-home slots');
  const slot = d.constantFrom(...c.slots);
  const key = d.oneof({}, { arbitrary: d.constant(0), weight: 2 }, { arbitrary: d.constant(1), weight: 1 });
  const keys = d.array(key, { maxLength: MAP_BATCH_MAX });
  const flags = d.constantFrom(...MAP_UPDATE_FLAGS);
  const sum = d.integer({ min: -8, max: 64 }).map(String);
  // false first: a flag the mismatch does not need shrinks away (and an absent `lock` is false)
  const locked = <T extends MapOpStep>(a: fc.Arbitrary<T>): fc.Arbitrary<T> => d.tuple(a, d.boolean()).map(([op, lock]) => (lock ? { ...op, lock } : op));
  return d.constantFrom(...MAP_OP_KINDS).chain(memoised((mapOp): fc.Arbitrary<MapOpStep> => {
    switch (mapOp) {
      case 'update':
        return locked(record({ mapOp: d.constant(mapOp), slot, key, flags, sum }));
      case 'update_batch':
        return locked(record({ mapOp: d.constant(mapOp), slot, keys, flags, sum }));
      case 'delete_batch':
        return record({ mapOp: d.constant(mapOp), slot, keys });
      case 'lookup_batch':
      case 'lookup_and_delete_batch':
        return locked(record({ mapOp: d.constant(mapOp), slot, count: d.integer({ min: 0, max: MAP_BATCH_MAX }) }));
      case 'lookup':
      case 'lookup_and_delete':
        return locked(record({ mapOp: d.constant(mapOp), slot, key }));
      default:
        return record({ mapOp: d.constant(mapOp), slot, key });
    }
  }));
}
