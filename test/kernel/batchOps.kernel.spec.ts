import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkScenarios } from '../../cli/pipeline.ts';
import { createEmulatorRunner } from '../../runners/emulator/index.ts';
import { loadSpec } from '../../specs/load.ts';
import type { MapType, Observation } from '../../types/index.ts';
import { hostSession } from '../helpers/hostSession.ts';
import { needs } from '../helpers/needs.ts';
import { batchOpsScenario } from './scenarios.ts';

beforeAll(async () => {
  await execa('bash', [join(import.meta.dirname, '../../scripts/build-harness.sh')]);
});

const TYPES: readonly MapType[] = ['array', 'percpu_array', 'hash', 'lru_hash', 'percpu_hash'];

/** What both runners report of a run: retvals per step, and every map operation's errno, count, keys and value. */
const facts = (o: Observation) => ({ runs: o.runs.map((r) => [r.step, r.retval]), mapOps: o.mapOps });

describe('userspace batch map operations on the host kernel', () => {
  it('should run every batch kind on every map type and agree with the oracle and the emulator', async (ctx) => {
    await needs(ctx, 'kernel');
    const spec = loadSpec();
    const scenarios = TYPES.map((t, i) => batchOpsScenario(`kbo${i}`, t));
    const { runner, kernel } = await hostSession(spec, 'direct');
    const host = await checkScenarios({ runner, kernel, spec, scenarios });
    const emulator = createEmulatorRunner({ workDir: '/tmp', nrCpus: kernel.nrCpus });
    const emulated = await checkScenarios({ runner: emulator, kernel, spec, scenarios });
    for (const [i, c] of host.entries()) {
      const type = TYPES[i];
      expect(c.observation.notRun, type).toEqual([]);
      expect(c.result.mismatches, type).toEqual([]);
      expect(c.result.status, type).toBe('pass');
      // every step ran: 10 program runs, 14 batch operations, each with its count
      expect(c.observation.runs.length, type).toBe(10);
      expect(c.observation.mapOps.length, type).toBe(14);
      expect(c.observation.mapOps.every((op) => op.count !== undefined), type).toBe(true);
      // a batch lookup copies zero where the kptr sits, on every CPU
      for (const op of c.observation.mapOps) for (const copy of op.value ?? []) expect(copy[1], type).toBe('0');
      expect(facts(emulated[i]!.observation), type).toEqual(facts(c.observation));
      expect(emulated[i]!.result.status, type).toBe('pass');
    }
  });
});
