import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkScenarios } from '../../cli/pipeline.ts';
import { createEmulatorRunner } from '../../runners/emulator/index.ts';
import { loadSpec } from '../../specs/load.ts';
import type { MapType, Observation } from '../../types/index.ts';
import { hostSession } from '../helpers/hostSession.ts';
import { needs } from '../helpers/needs.ts';
import { mapOpsScenario } from './scenarios.ts';

beforeAll(async () => {
  await execa('bash', [join(import.meta.dirname, '../../scripts/build-harness.sh')]);
});

const TYPES: readonly MapType[] = ['array', 'percpu_array', 'hash', 'percpu_hash'];

/** What both runners report of a run: retvals per step, and every map operation's errno and value. */
const facts = (o: Observation) => ({ runs: o.runs.map((r) => [r.step, r.retval]), mapOps: o.mapOps });

describe('userspace map operations on the host kernel', () => {
  it('should release the object on update and delete, re-add elements with a NULL field, and agree with the oracle and the emulator', async (ctx) => {
    await needs(ctx, 'kernel');
    const spec = loadSpec();
    const scenarios = TYPES.map((t, i) => mapOpsScenario(`kmo${i}`, t));
    const { runner, kernel } = await hostSession(spec, 'direct');
    const host = await checkScenarios({ runner, kernel, spec, scenarios });
    const emulator = createEmulatorRunner({ workDir: '/tmp', nrCpus: kernel.nrCpus });
    const emulated = await checkScenarios({ runner: emulator, kernel, spec, scenarios });
    for (const [i, c] of host.entries()) {
      const type = TYPES[i];
      expect(c.observation.notRun, type).toEqual([]);
      expect(c.result.mismatches, type).toEqual([]);
      expect(c.result.status, type).toBe('pass');
      // every step ran: 9 program runs, 14 map operations
      expect(c.observation.runs.length, type).toBe(9);
      expect(c.observation.mapOps.length, type).toBe(14);
      // step 1: the object stored by step 0 is there; step 3's update released it, so steps 4 and 5 see NULL
      expect(c.observation.runs.slice(1, 4).map((r) => r.retval), type).toEqual([2, 1, 1]);
      // a lookup copies zero where the kptr sits, on every CPU
      for (const op of c.observation.mapOps) for (const copy of op.value ?? []) expect(copy[1], type).toBe('0');
      expect(facts(emulated[i]!.observation), type).toEqual(facts(c.observation));
      expect(emulated[i]!.result.status, type).toBe('pass');
    }
    // hash maps: step 10 deleted the element holding step 9's object, and step 13's lookup re-added it NULL
    for (const c of host.slice(2)) expect(c.observation.runs.find((r) => r.step === 13)?.retval).toBe(1);
  });
});
