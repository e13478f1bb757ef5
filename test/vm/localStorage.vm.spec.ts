import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../oracle/predict.ts';
import { compare } from '../../judge/compare.ts';
import { createVmRunner } from '../../runners/vm/index.ts';
import { loadSpec } from '../../specs/load.ts';
import { needsKernelImage } from '../helpers/needs.ts';
import { EMPTY, HELD, storageCounter } from '../helpers/localStorageScenarios.ts';
import { heldObjects, runCase } from './memoryScenarios.ts';

const KERNEL = '6.12';
/** 16 slots × 512 bytes × 2 CPUs = 16 KiB held a pass: 20 passes keep 320 KiB, five times the oracle's slack */
const PASSES = 20;
const SLOTS = 16;

describe('local storage in a VM', () => {
  it('should give the owner after owner_exit fresh task and cgroup storage, as the oracle predicts', async (ctx) => {
    await needsKernelImage(ctx, KERNEL);
    const spec = loadSpec();
    const runner = createVmRunner({ kernel: KERNEL, workDir: await mkdtemp(join(tmpdir(), 'kptr-vm-ls-')) });
    // tc has no bpf_task_storage_get on 6.12 (local_storage.prog_type): task storage from syscall, cgroup storage from tc
    const scenarios = [storageCounter('vls_task', 'task_storage', 'syscall'), storageCounter('vls_cgrp', 'cgrp_storage', 'tc')];
    const observations = await runner.run(scenarios.map(runCase));
    observations.forEach((o, i) => {
      const s = scenarios[i]!;
      expect(o.error).toBeNull();
      expect(o.runs.map((r) => r.retval)).toEqual([EMPTY, HELD, EMPTY]);
      const r = compare(predict(s, { version: o.kernel.version, nrCpus: o.kernel.nrCpus, divergences: [] }, spec), o);
      expect(r.mismatches).toEqual([]);
      expect(r.status).toBe('pass');
    });
  });

  it('should see per-CPU memory back at its baseline when the owner exits, and a leak when it does not', async (ctx) => {
    await needsKernelImage(ctx, KERNEL);
    const spec = loadSpec();
    const runner = createVmRunner({
      kernel: KERNEL,
      workDir: await mkdtemp(join(tmpdir(), 'kptr-vm-ls-mem-')),
      memoryPasses: PASSES,
      // the positive control: owner_exit ends no owner, as a kernel that keeps a dead owner's storage would look
      keepOwners: ['vls_kept'],
    });
    const scenarios = [
      heldObjects('vls_task_freed', SLOTS, { kind: 'task_storage' }),
      heldObjects('vls_cgrp_freed', SLOTS, { kind: 'cgrp_storage' }),
      heldObjects('vls_kept', SLOTS, { kind: 'task_storage' }),
    ];
    const observations = await runner.run(scenarios.map(runCase));
    const results = observations.map((o, i) => {
      const p = predict(scenarios[i]!, { version: o.kernel.version, nrCpus: o.kernel.nrCpus, divergences: [] }, spec);
      console.log(o.scenarioId, o.memory, p.memory);
      return compare(p, o);
    });
    for (const o of observations) {
      expect(o.error).toBeNull();
      expect(o.memory?.passes).toBe(PASSES);
    }
    expect(results.map((r) => [r.scenarioId, r.status, r.mismatches.map((m) => m.kind)])).toEqual([
      ['vls_task_freed', 'pass', []],
      ['vls_cgrp_freed', 'pass', []],
      ['vls_kept', 'fail', ['leak']],
    ]);
  });
});
