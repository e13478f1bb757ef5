import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkScenarios } from '../../cli/pipeline.ts';
import { buildObject } from '../../compile/buildObject.ts';
import { createEmulatorRunner } from '../../runners/emulator/index.ts';
import { DEFAULT_HARNESS_PATH } from '../../runners/harnessProtocol.ts';
import { writePlan } from '../../runners/harnessProtocol.ts';
import { loadSpec } from '../../specs/load.ts';
import type { Scenario } from '../../types/index.ts';
import { hostSession } from '../helpers/hostSession.ts';
import { needs } from '../helpers/needs.ts';
import { EMPTY, HELD, storageCounter } from '../helpers/localStorageScenarios.ts';

beforeAll(async () => {
  await execa('bash', [join(import.meta.dirname, '../../scripts/build-harness.sh')]);
});

/** The scenario without its owner_exit: what the host runner runs (owner_exit is VM only, runners/host/safety.ts). */
const withoutExit = (s: Scenario): Scenario => ({ ...s, schedule: s.schedule.filter((st) => !('owner_exit' in st)) });

describe('local storage on the host kernel', () => {
  for (const codegen of ['direct', 'clang'] as const) {
    it(`should keep a task's and a cgroup's element across runs, refuse a sleepable program's cgroup, and agree with the oracle (${codegen})`, async (ctx) => {
      await needs(ctx, 'kernel');
      if (codegen === 'clang') await needs(ctx, 'clang');
      const spec = loadSpec();
      const { runner, kernel } = await hostSession(spec, codegen);
      // the host is 6.18: tc has bpf_task_storage_get (local_storage.prog_type names the kernels without it)
      const scenarios = [
        withoutExit(storageCounter('kls_task_sys', 'task_storage', 'syscall')),
        withoutExit(storageCounter('kls_task_tc', 'task_storage', 'tc')),
        withoutExit(storageCounter('kls_cgrp_tc', 'cgrp_storage', 'tc')),
        withoutExit(storageCounter('kls_cgrp_sys', 'cgrp_storage', 'syscall')),
      ];
      const checked = await checkScenarios({ runner, kernel, spec, scenarios });
      for (const [i, c] of checked.entries()) {
        const id = scenarios[i]!.id;
        expect(c.result.mismatches, id).toEqual([]);
        expect(c.result.status, id).toBe('pass');
      }
      // the same owner (the harness's owner process) all along: empty, then holding
      for (const c of checked.slice(0, 3)) expect(c.observation.runs.map((r) => r.retval)).toEqual([EMPTY, HELD, HELD]);
      const refused = checked[3]!.observation.programs[0]!;
      expect(refused.verdict === 'rejected' && refused.summary).toMatch(/R2 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_/);
      expect(checked[3]!.result.rules).toEqual(['local_storage.untrusted_owner']);
    });
  }

  it('should free a task\'s storage with the task at the harness\'s owner_exit, the next owner starting empty, as the emulator does', async (ctx) => {
    await needs(ctx, 'kernel');
    const s = storageCounter('kls_exit', 'task_storage', 'syscall');
    const work = await mkdtemp(join(tmpdir(), 'kptr-ls-'));
    const object = await buildObject([s], 'direct', work, s.id);
    const plan = join(work, 'plan');
    await writeFile(plan, writePlan({ scenarios: [s], runSteps: { [s.id]: s.schedule.map((_, i) => i) } }));
    const { stdout } = await execa(DEFAULT_HARNESS_PATH, ['run', object, plan]);
    const events = stdout.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e.ev === 'run').map((e) => e.retval)).toEqual([EMPTY, HELD, EMPTY]);
    expect(events.filter((e) => e.ev === 'owner_exit').map((e) => e.err)).toEqual([null]);
    // the emulator runs owner_exit too: the same values, and the oracle's
    const spec = loadSpec();
    const emulator = createEmulatorRunner({ workDir: work, nrCpus: 2 });
    const [emulated] = await checkScenarios({ runner: emulator, kernel: { release: 'emulator', version: '6.18.44', nrCpus: 2, machine: 'emulator', divergences: [] }, spec, scenarios: [s] });
    expect(emulated!.result.status).toBe('pass');
    expect(emulated!.observation.runs.map((r) => r.retval)).toEqual([EMPTY, HELD, EMPTY]);
  });
});
