/**
 * The regression scenario of divergence percpu_obj_new_uncleared (specs/regressions/percpu_obj_new_uncleared.yaml)
 * through both codegens and the emulated machine: its grace-period steps change no object (they are schedule, not
 * code), and the machine, which ends a grace period after every run, hands the dropped object out again.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadObject, Machine } from '../../../emulator/index.ts';
import type { FreedMemory } from '../../../emulator/machine/Heap.ts';
import { buildObject, type Codegen } from '../../../compile/buildObject.ts';
import { emitBatch } from '../../../compile/codegen/emit.ts';
import { writeObject } from '../../../compile/object/writeObject.ts';
import { loadScenarioFile } from '../../../specs/load.ts';
import type { Scenario } from '../../../types/index.ts';
import { needs } from '../../helpers/needs.ts';
import { isRunStep } from '../../../types/index.ts';

const puc = loadScenarioFile(fileURLToPath(new URL('../../../specs/regressions/percpu_obj_new_uncleared.yaml', import.meta.url)));
const withoutGracePeriods: Scenario = { ...puc, schedule: puc.schedule.filter((s) => !('grace_period' in s)) };

/** puc_seen after each run of puc_fresh, the schedule run on a machine that reuses freed memory `freedMemory`'s way */
async function freshReads(codegen: Codegen, freedMemory: FreedMemory): Promise<string[]> {
  const object = await buildObject([puc], codegen, await mkdtemp(join(tmpdir(), 'kptr-emu-puc-')), puc.id);
  const m = Machine.load(loadObject(await readFile(object), { rodata: { nr_cpus: 2 } }), { nrCpus: 2, freedMemory });
  const seen: string[] = [];
  for (const step of puc.schedule) {
    if (!isRunStep(step)) continue; // a grace period: Machine.run ends one after every run
    for (let i = 0; i < step.repeat; i++) {
      expect(m.run(step.program, step.cpu)).toMatchObject({ outcome: 'exit', retval: 0 });
      if (step.program === 'puc_fresh') seen.push(m.globals(['puc_seen']).puc_seen ?? 'missing');
    }
  }
  expect(m.free()).toEqual([]);
  return seen;
}

describe('percpu_obj_new_uncleared regression scenario', () => {
  it('should compile to the same C and the same direct object with or without its grace periods', () => {
    expect(emitBatch([puc])).toEqual(emitBatch([withoutGracePeriods]));
    expect(writeObject([puc])).toEqual(writeObject([withoutGracePeriods]));
  });

  for (const codegen of ['direct', 'clang'] as const) {
    it(`should read the dropped object's 21 on a reusing machine and 0 on a zeroing one (${codegen} object)`, async (ctx) => {
      if (codegen === 'clang') await needs(ctx, 'clang');
      expect(await freshReads(codegen, 'reused-uncleared')).toEqual(['21', '21']);
      expect(await freshReads(codegen, 'zeroed')).toEqual(['0', '0']);
    });
  }
});
