import { describe, expect, it } from 'vitest';
import { predict } from '../../../oracle/predict.ts';
import { loadSpec } from '../../../specs/load.ts';
import type { MapType } from '../../../types/index.ts';
import { batchOpsScenario, lruEvictionScenario, mapOpsScenario } from '../../kernel/scenarios.ts';

const spec = loadSpec();
const target = { version: '6.18.44', nrCpus: 2, divergences: [] };
const predicted = (type: MapType) => predict(mapOpsScenario('u', type), target, spec);

describe('oracle: userspace map operations (specs/ops/map)', () => {
  it('should predict each errno from the contract for arrays: E2BIG past max_entries, EEXIST for BPF_NOEXIST, EINVAL for delete, ENOTSUPP for lookup_and_delete', () => {
    for (const type of ['array', 'percpu_array'] as const) {
      const p = predicted(type);
      expect(p.wellFormed).toBe(true);
      expect(p.mapOps.map((r) => r.err)).toEqual([null, null, null, 'EEXIST', 'E2BIG', 'EINVAL', 'EINVAL', null, 'ENOTSUPP', null, 'E2BIG', 'ENOENT', null, null]);
      expect(p.mapOps.every((r) => r.mapType === type)).toBe(true);
    }
  });

  it('should predict hash elements that come and go: ENOENT when missing, E2BIG when full, a re-added element NULL', () => {
    for (const type of ['hash', 'percpu_hash'] as const) {
      const p = predicted(type);
      expect(p.mapOps.map((r) => r.err)).toEqual([null, null, null, 'EEXIST', 'E2BIG', null, 'ENOENT', 'ENOENT', null, 'ENOENT', null, null, 'E2BIG', 'ENOENT']);
      // step 13: the lookup re-added the deleted element with a NULL field; steps 18 and 21: key 1 fills the map
      expect(p.steps.filter((s) => [13, 18, 21].includes(s.step)).map((s) => s.retval)).toEqual([1, 0, 0]);
    }
  });

  it('should predict that an update releases the object (NULL afterwards, on every CPU) and writes sum everywhere', () => {
    for (const type of ['array', 'percpu_array', 'hash', 'percpu_hash'] as const) {
      const p = predicted(type);
      expect(p.steps.slice(0, 4).map((s) => s.retval)).toEqual([3, 2, 1, 1]);
      const lookup = p.mapOps.find((r) => r.step === 6);
      const copies = type.startsWith('percpu') ? 2 : 1;
      expect(lookup?.value).toEqual(Array.from({ length: copies }, () => ['5', '0']));
    }
  });

  it('should show zero where the kptr sits in every value a lookup returns, and -1 as its u64', () => {
    const p = predicted('percpu_array');
    for (const r of p.mapOps) for (const copy of r.value ?? []) expect(copy[1]).toBe('0');
    expect(p.mapOps.at(-1)?.value).toEqual([['18446744073709551615', '0'], ['18446744073709551615', '0']]);
  });
});

describe('oracle: userspace batch map operations (specs/ops/map/*_batch.yaml)', () => {
  const batch = (type: MapType) => predict(batchOpsScenario('b', type), target, spec);

  it('should predict each errno and count: EINVAL elem_flags and ENOTSUPP leave count as passed, a failing key stops the batch', () => {
    expect(batch('array').mapOps.map((r) => `${r.err ?? 'ok'} ${r.count}`)).toEqual([
      'ENOENT 1', 'ok 1', 'EINVAL 1', 'E2BIG 1', 'ENOENT 1', 'ENOTSUPP 2', 'ENOTSUPP 0', 'ENOTSUPP 0', 'ENOTSUPP 2', 'ok 1', 'ENOTSUPP 1', 'ENOENT 1', 'E2BIG 0', 'ok 1']);
    expect(batch('hash').mapOps.map((r) => `${r.err ?? 'ok'} ${r.count}`)).toEqual([
      'ENOENT 1', 'ENOENT 1', 'EINVAL 1', 'E2BIG 1', 'ENOENT 1', 'ENOENT 1', 'ok 0', 'ok 0', 'ENOENT 1', 'ENOENT 1', 'ok 1', 'ENOENT 0', 'E2BIG 1', 'ENOENT 1']);
    // an LRU map evicts instead of failing when full
    expect(batch('lru_hash').mapOps.find((r) => r.step === 6)).toMatchObject({ err: null, count: 2 });
  });

  it('should predict that a batch update, delete and lookup_and_delete release the object (NULL afterwards)', () => {
    // step 7: after update_batch; steps 12 and 17: after delete_batch and lookup_and_delete_batch took the element
    expect(batch('percpu_hash').steps.filter((s) => [7, 12, 17].includes(s.step)).map((s) => s.retval)).toEqual([1, 1, 1]);
    // an array keeps its element: the refused batch delete left the object there
    expect(batch('percpu_array').steps.filter((s) => [7, 12, 17].includes(s.step)).map((s) => s.retval)).toEqual([1, 2, 2]);
  });

  it('should show zero where the kptr sits in every copy a batch lookup returns, with the keys, and nothing when it copied nothing', () => {
    const p = batch('percpu_hash');
    expect(p.mapOps.find((r) => r.step === 16)).toMatchObject({ keys: [0], value: [['0', '0'], ['0', '0']] });
    expect(p.mapOps.find((r) => r.step === 20)).toEqual({ step: 20, mapOp: 'lookup_batch', mapType: 'percpu_hash', err: 'ENOENT', value: null, count: 0 });
    for (const r of p.mapOps) for (const copy of r.value ?? []) expect(copy[1]).toBe('0');
  });
});

describe('oracle: LRU eviction under pressure (specs/ops/map/update.yaml)', () => {
  const evict = (type: MapType) => predict(lruEvictionScenario('l', type), target, spec);

  it('should predict the one outcome max_entries 1 allows: every update that takes a node evicts the only element', () => {
    const errs = (type: MapType) => evict(type).mapOps.map((r) => r.err ?? 'ok');
    // key 1 evicts key 0; BPF_NOEXIST on the present key 0 succeeds; BPF_EXIST: lru_hash evicts first, the per-CPU one does not
    expect(errs('lru_hash')).toEqual(['ok', 'ENOENT', 'ok', 'ok', 'ENOENT', 'ENOENT', 'ENOENT', 'ok', 'ENOENT', 'ok']);
    expect(errs('lru_percpu_hash')).toEqual(['ok', 'ENOENT', 'ok', 'ok', 'ok', 'ok', 'ENOENT', 'ok', 'ENOENT', 'ok']);
    // a per-CPU LRU lookup copies one value per CPU
    expect(evict('lru_percpu_hash').mapOps[2]?.value).toEqual([['4', '0'], ['4', '0']]);
  });

  it('should predict the evicted object gone: check sees NULL after each eviction, and the object kept when nothing evicts', () => {
    const retvals = (type: MapType) => evict(type).steps.map((r) => r.retval);
    expect(retvals('lru_hash')).toEqual([3, 2, 1, 3, 1, 3, 3, 1, 1, 1]);
    expect(retvals('lru_percpu_hash')).toEqual([3, 2, 1, 3, 1, 3, 3, 2, 1, 1]);
  });
});
