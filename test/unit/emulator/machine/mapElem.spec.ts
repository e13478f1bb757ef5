import { describe, expect, it } from 'vitest';
import { loadObject } from '../../../../emulator/loader/loadObject.ts';
import { Machine } from '../../../../emulator/machine/Machine.ts';
import { machineMapOp } from '../../../../runners/emulator/index.ts';
import { writeObject } from '../../../../runners/object/writeObject.ts';
import type { MapType } from '../../../../types/index.ts';
import { mapOpsScenario } from '../../../kernel/scenarios.ts';

const BPF_ANY = 0;

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
