import { describe, expect, it } from 'vitest';
import { predict } from '../../../oracle/predict.ts';
import { loadSpec } from '../../../specs/load.ts';
import type { MapType } from '../../../types/index.ts';
import { mapOpsScenario } from '../../kernel/scenarios.ts';

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
