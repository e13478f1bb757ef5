import { describe, expect, it } from 'vitest';
import { predict } from '../../../oracle/predict.ts';
import { loadSpec } from '../../../specs/load.ts';
import { checkScenarioRefs } from '../../../specs/checkScenarioRefs.ts';
import type { Scenario } from '../../../types/index.ts';
import { EMPTY, HELD, storageCounter } from '../../helpers/localStorageScenarios.ts';
import { heldObjects } from '../../vm/memoryScenarios.ts';

const spec = loadSpec();
const on = (version: string, s: Scenario) => predict(s, { version, nrCpus: 2, divergences: [] }, spec);
const retvals = (s: Scenario, version = '6.18.44') => on(version, s).steps.map((x) => x.retval);

describe('local-storage homes in the oracle', () => {
  it('should give a fresh owner a fresh element after owner_exit (empty, held, then empty again)', () => {
    expect(retvals(storageCounter('lsa', 'task_storage', 'syscall'))).toEqual([EMPTY, HELD, EMPTY]);
    expect(retvals(storageCounter('lsb', 'cgrp_storage', 'tc'))).toEqual([EMPTY, HELD, EMPTY]);
    // without the owner's exit the element lives on
    const s = storageCounter('lsc', 'task_storage', 'syscall');
    expect(retvals({ ...s, schedule: s.schedule.filter((x) => !('owner_exit' in x)) })).toEqual([EMPTY, HELD, HELD]);
  });

  it('should count the homes and the owner_exit step in the exercise coverage', () => {
    expect(on('6.18.44', storageCounter('lsd', 'task_storage', 'syscall')).exercises).toEqual(['home task_storage', 'step owner_exit', 'step run']);
    expect(on('6.18.44', storageCounter('lse', 'cgrp_storage', 'tc')).exercises).toEqual(['home cgrp_storage', 'step owner_exit', 'step run']);
  });

  it('should predict the memory back at its baseline only when the owner exits last and holds every slot', () => {
    const held = on('6.18.44', heldObjects('lsf', 8, { kind: 'task_storage' }));
    expect(held.memory).toEqual({ allocatedBytes: 8 * 512 * 2, heldAtFreeBytes: 8 * 512 * 2, slackKb: 64 });
    // an exit in the middle of the schedule leaves later runs' objects held
    expect(on('6.18.44', storageCounter('lsg', 'task_storage', 'syscall')).memory).toBeNull();
  });

  it('should refuse cgroup storage in a sleepable program outside an RCU section, with each kernel\'s words', () => {
    const s = storageCounter('lsh', 'cgrp_storage', 'syscall');
    expect(on('6.12.117', s).programs[0]).toMatchObject({ verdict: 'rejected', expected: { ruleId: 'local_storage.untrusted_owner', errnoName: 'EACCES', lines: ['R2 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_'] } });
    expect(on('7.3.4', s).programs[0]).toMatchObject({ verdict: 'rejected', expected: { ruleId: 'local_storage.untrusted_owner', lines: ['R2 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_', 'Verification failed: Call Type Safety: Invalid call argument'] } });
    expect(on('6.18.44', storageCounter('lsi', 'cgrp_storage', 'fentry')).programs[0]).toEqual({ program: 'lsi_p', verdict: 'accepted' });
  });

  it('should refuse task storage in a tc program before 6.18 only', () => {
    const s = storageCounter('lsj', 'task_storage', 'tc');
    expect(on('6.12.117', s).programs[0]).toMatchObject({ verdict: 'rejected', expected: { ruleId: 'local_storage.prog_type', errnoName: 'EINVAL', lines: ['program of this type cannot use helper bpf_task_storage_get#156'] } });
    expect(on('6.18.44', s).programs[0]).toEqual({ program: 'lsj_p', verdict: 'accepted' });
    expect(on('6.12.117', storageCounter('lsk', 'cgrp_storage', 'tc')).programs[0]).toEqual({ program: 'lsk_p', verdict: 'accepted' });
  });

  it('should admit owner_exit only with a local-storage slot, and userspace map operations only on map homes', () => {
    const s = storageCounter('lsl', 'task_storage', 'syscall');
    expect(checkScenarioRefs(s)).toEqual([]);
    const mapHome: Scenario = { ...s, slots: s.slots.map((x) => ({ ...x, home: { kind: 'map', mapType: 'array' } })) };
    expect(checkScenarioRefs(mapHome)).toEqual(['schedule[2]: owner_exit needs a slot kept in local storage (task_storage or cgrp_storage)']);
    const mapOp: Scenario = { ...s, schedule: [...s.schedule, { mapOp: 'delete', slot: 'lsl_m', key: 0 }] };
    expect(checkScenarioRefs(mapOp)).toEqual(["schedule[4].slot: no slot 'lsl_m' kept in a map"]);
  });
});
