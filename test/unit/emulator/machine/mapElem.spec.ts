import { describe, expect, it } from 'vitest';
import { loadObject } from '../../../../emulator/loader/loadObject.ts';
import { Machine } from '../../../../emulator/machine/Machine.ts';
import { machineMapOp } from '../../../../runners/emulator/index.ts';
import { writeObject } from '../../../../compile/object/writeObject.ts';
import type { MapType } from '../../../../types/index.ts';
import { mapOpsScenario } from '../../../kernel/scenarios.ts';

const BPF_ANY = 0, BPF_NOEXIST = 1, BPF_EXIST = 2;

function machineFor(type: MapType) {
  const s = mapOpsScenario('e', type);
  const obj = loadObject(writeObject([s]), { rodata: { nr_cpus: 2 } });
  return { s, obj, m: Machine.load(obj, { nrCpus: 2 }) };
}

describe('Machine.mapElem: userspace map operations', () => {
  for (const type of ['array', 'percpu_array', 'hash', 'percpu_hash'] as const) {
    it(`should release the object an update replaces and a delete removes (${type})`, () => {
      const { obj, m } = machineFor(type);
      expect(m.run('e_put', 0)).toMatchObject({ outcome: 'exit', retval: 3 });
      expect(m.liveObjects()).toBe(1);
      expect(machineMapOp(m, obj, 'e_m', 'update', '0', BPF_ANY, 5n).err).toBeNull();
      expect(m.liveObjects()).toBe(0);
      expect(m.run('e_check', 1)).toMatchObject({ outcome: 'exit', retval: 1 });
      expect(m.run('e_put', 1)).toMatchObject({ outcome: 'exit', retval: 3 });
      expect(m.liveObjects()).toBe(1);
      const del = machineMapOp(m, obj, 'e_m', 'delete', '0', 0, 0n);
      expect(del.err).toBe(type.endsWith('array') ? 'EINVAL' : null);
      expect(m.liveObjects()).toBe(type.endsWith('array') ? 1 : 0);
      expect(m.free()).toEqual([]);
      expect(m.liveObjects()).toBe(0);
    });
  }

  it('should copy zero where the kptr sits, one copy per CPU of a per-CPU map', () => {
    const { obj, m } = machineFor('percpu_hash');
    expect(m.run('e_put', 0)).toMatchObject({ outcome: 'exit' });
    expect(machineMapOp(m, obj, 'e_m', 'lookup', '0', 0, 0n)).toEqual({ err: null, value: [['0', '0'], ['0', '0']] });
    expect(machineMapOp(m, obj, 'e_m', 'lookup', '1', 0, 0n)).toEqual({ err: 'ENOENT', value: null });
    expect(machineMapOp(m, obj, 'e_m', 'update', '1', BPF_ANY, 1n).err).toBe('E2BIG');
    expect(machineMapOp(m, obj, 'e_m', 'lookup_and_delete', '0', 0, 0n)).toEqual({ err: null, value: [['0', '0'], ['0', '0']] });
    expect(m.liveObjects()).toBe(0);
    expect(() => m.mapElem('nope', 'lookup', 0, new Uint8Array(16), 0)).toThrow(RangeError);
  });
});

describe('Machine: LRU eviction under pressure (specs/ops/map/update.yaml)', () => {
  for (const type of ['lru_hash', 'lru_percpu_hash'] as const) {
    it(`should evict the only element, releasing its object, for every update that takes a node (${type})`, () => {
      const { obj, m } = machineFor(type);
      const update = (key: number, flags: number) => machineMapOp(m, obj, 'e_m', 'update', String(key), flags, 5n).err;
      expect(m.run('e_put', 0)).toMatchObject({ outcome: 'exit', retval: 3 });
      expect(update(1, BPF_ANY)).toBeNull();
      expect(m.liveObjects()).toBe(0);
      expect(machineMapOp(m, obj, 'e_m', 'lookup', '0', 0, 0n).err).toBe('ENOENT');
      // the program's insert of key 0 evicts key 1
      expect(m.run('e_put', 1)).toMatchObject({ outcome: 'exit', retval: 3 });
      expect(machineMapOp(m, obj, 'e_m', 'lookup', '1', 0, 0n).err).toBe('ENOENT');
      // BPF_NOEXIST on the present key: evicted first, so inserted afresh
      expect(update(0, BPF_NOEXIST)).toBeNull();
      expect(m.liveObjects()).toBe(0);
      expect(m.run('e_put', 0)).toMatchObject({ outcome: 'exit', retval: 3 });
      // BPF_EXIST on the present key: the per-CPU LRU map takes no node and updates in place
      expect(update(0, BPF_EXIST)).toBe(type === 'lru_hash' ? 'ENOENT' : null);
      expect(m.liveObjects()).toBe(0);
      expect(m.run('e_put', 0)).toMatchObject({ outcome: 'exit', retval: 3 });
      expect(update(1, BPF_EXIST)).toBe('ENOENT');
      expect(m.liveObjects()).toBe(type === 'lru_hash' ? 0 : 1);
      expect(m.free()).toEqual([]);
    });
  }
});

describe('Machine.mapBatch: userspace batch map operations', () => {
  for (const type of ['array', 'percpu_array', 'hash', 'lru_hash', 'percpu_hash', 'lru_percpu_hash'] as const) {
    it(`should release the object a batch update replaces and a batch delete removes (${type})`, () => {
      const { obj, m } = machineFor(type);
      const array = type.endsWith('array');
      expect(m.run('e_put', 0)).toMatchObject({ outcome: 'exit', retval: 3 });
      // elem_flags take BPF_F_LOCK only: nothing is written and count stays as passed
      expect(machineMapOp(m, obj, 'e_m', 'update_batch', '0', 2, 5n)).toEqual({ err: 'EINVAL', value: null, count: 1 });
      expect(m.liveObjects()).toBe(1);
      const update = machineMapOp(m, obj, 'e_m', 'update_batch', '0,1', BPF_ANY, 5n);
      // key 1 is past an array's max_entries and a new element of a full hash map; an LRU map evicts key 0 for it
      expect(update).toEqual(type.startsWith('lru') ? { err: null, value: null, count: 2 } : { err: 'E2BIG', value: null, count: 1 });
      expect(m.liveObjects()).toBe(0);
      expect(m.run('e_put', 1)).toMatchObject({ outcome: 'exit', retval: 3 });
      expect(machineMapOp(m, obj, 'e_m', 'delete_batch', '0,1', 0, 0n)).toEqual(array ? { err: 'ENOTSUPP', value: null, count: 2 } : { err: 'ENOENT', value: null, count: 1 });
      expect(m.liveObjects()).toBe(array ? 1 : 0);
      expect(machineMapOp(m, obj, 'e_m', 'delete_batch', '-', 0, 0n)).toEqual({ err: array ? 'ENOTSUPP' : null, value: null, count: 0 });
      expect(m.free()).toEqual([]);
    });
  }

  it('should return zero where the kptr sits from a batch lookup, end with ENOENT, and release what lookup_and_delete takes', () => {
    const copies = [['0', '0'], ['0', '0']];
    const array = machineFor('percpu_array');
    expect(array.m.run('e_put', 0)).toMatchObject({ outcome: 'exit', retval: 3 });
    expect(machineMapOp(array.m, array.obj, 'e_m', 'lookup_batch', '1', 0, 0n)).toEqual({ err: null, value: copies, count: 1, keys: [0] });
    expect(machineMapOp(array.m, array.obj, 'e_m', 'lookup_batch', '2', 0, 0n)).toEqual({ err: 'ENOENT', value: copies, count: 1, keys: [0] });
    expect(machineMapOp(array.m, array.obj, 'e_m', 'lookup_batch', '0', 0, 0n)).toEqual({ err: null, value: null, count: 0 });
    expect(machineMapOp(array.m, array.obj, 'e_m', 'lookup_and_delete_batch', '2', 0, 0n)).toEqual({ err: 'ENOTSUPP', value: null, count: 2 });
    const hash = machineFor('percpu_hash');
    expect(hash.m.run('e_put', 0)).toMatchObject({ outcome: 'exit', retval: 3 });
    // one bucket (max_entries 1): every hash batch lookup walks past the last bucket
    expect(machineMapOp(hash.m, hash.obj, 'e_m', 'lookup_batch', '1', 0, 0n)).toEqual({ err: 'ENOENT', value: copies, count: 1, keys: [0] });
    expect(hash.m.liveObjects()).toBe(1);
    expect(machineMapOp(hash.m, hash.obj, 'e_m', 'lookup_and_delete_batch', '3', 0, 0n)).toEqual({ err: 'ENOENT', value: copies, count: 1, keys: [0] });
    expect(hash.m.liveObjects()).toBe(0);
    expect(machineMapOp(hash.m, hash.obj, 'e_m', 'lookup_batch', '3', 0, 0n)).toEqual({ err: 'ENOENT', value: null, count: 0 });
  });
});
