import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../oracle/predict.ts';
import { compare } from '../../judge/compare.ts';
import { createVmRunner } from '../../runners/vm/index.ts';
import { loadSpec } from '../../specs/load.ts';
import { needsKernelImage } from '../helpers/needs.ts';
import { heldObjects, runCase } from './memoryScenarios.ts';

const KERNEL = '6.12';
/** 8 slots × 512 bytes × 2 CPUs = 8 KiB held a pass: 40 passes keep 320 KiB, five times the oracle's slack */
const PASSES = 40;

describe('the memory oracle in a VM', () => {
  it('should report a leak when the objects stay and none when the maps free them', async (ctx) => {
    await needsKernelImage(ctx, KERNEL);
    const spec = loadSpec();
    const runner = createVmRunner({
      kernel: KERNEL,
      workDir: await mkdtemp(join(tmpdir(), 'kptr-vm-mem-')),
      memoryPasses: PASSES,
      // the positive control: free_maps closes the programs but keeps the maps, as a kernel that keeps the objects would
      keepMaps: ['mem_kept'],
    });
    const scenarios = [heldObjects('mem_freed'), heldObjects('mem_kept')];
    const observations = await runner.run(scenarios.map(runCase));
    const results = observations.map((o, i) => {
      const p = predict(scenarios[i]!, { version: o.kernel.version, nrCpus: o.kernel.nrCpus, divergences: [] }, spec);
      console.log(o.scenarioId, o.memory, p.memory);
      return compare(p, o);
    });
    const [freed, kept] = observations;
    expect(freed?.error).toBeNull();
    expect(kept?.error).toBeNull();
    expect(freed?.memory?.passes).toBe(PASSES);
    expect(kept?.memory?.passes).toBe(PASSES);
    expect(results[0]?.mismatches).toEqual([]);
    expect(results[0]?.status).toBe('pass');
    expect(results[1]?.status).toBe('fail');
    expect(results[1]?.mismatches.map((m) => m.kind)).toEqual(['leak']);
  });
});
