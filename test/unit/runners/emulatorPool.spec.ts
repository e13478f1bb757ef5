/**
 * The emulator runner's worker threads (runners/emulator/pool.ts) give what the in-process runner gives: the same
 * observations (timings aside), delivered to onObservation in the same order, over objects built in other threads.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prefixScenario } from '../../../generators/prefixScenario.ts';
import { scenario } from '../../../generators/scenario.ts';
import { generateValues } from '../../../campaign/shrink.ts';
import { createEmulatorRunner } from '../../../runners/emulator/index.ts';
import type { Observation } from '../../../types/index.ts';

/** an observation without its clock readings (loadNs, runNs), which differ between any two runs */
const untimed = (o: Observation): unknown => JSON.parse(JSON.stringify(o, (k, v: unknown) => (k === 'loadNs' || k === 'runNs' ? 0 : v)));

describe('emulator runner with worker threads', () => {
  it('should observe a campaign chunk as the in-process runner does, in the same order', async () => {
    const arb = scenario({ mode: 'mixed', progTypes: ['tc', 'syscall', 'fentry', 'fentry.s'], nrCpus: 2 });
    const scenarios = [...generateValues(arb, 7, 240)].map((v, i) => prefixScenario(v.value_, `p7_${i}`));
    const cases = scenarios.map((s) => ({ scenario: s, plan: { scenarioId: s.id, expectedAccepted: [], wellFormed: true, execute: true, expectSplat: false, corruptsKernel: false } }));
    const observe = async (threads: number): Promise<{ obs: Observation[]; order: string[] }> => {
      const runner = createEmulatorRunner({ workDir: join(tmpdir(), `kptr-emu-pool-${process.pid}`), maxPerBatch: 30, threads });
      const order: string[] = [];
      const obs = await runner.run(cases, { onObservation: (o) => order.push(o.scenarioId) });
      return { obs, order };
    };
    const one = await observe(0);
    const pooled = await observe(2);
    expect(pooled.order).toEqual(one.order);
    expect(pooled.obs.map(untimed)).toEqual(one.obs.map(untimed));
    // the chunk exercised the machine, not only the verifier model
    expect(one.obs.reduce((n, o) => n + o.runs.length, 0)).toBeGreaterThan(100);
  }, 120_000);

  // the stop comes from the first observation's receiver: with threads, the other batches may have finished already
  // (they are not delivered); in this thread, the next batch is not started
  it.each([0, 2])('should reject a stopped run with the abort reason (%i threads)', async (threads) => {
    const arb = scenario({ mode: 'valid', progTypes: ['tc'], nrCpus: 2 });
    const scenarios = [...generateValues(arb, 3, 60)].map((v, i) => prefixScenario(v.value_, `q3_${i}`));
    const cases = scenarios.map((s) => ({ scenario: s, plan: { scenarioId: s.id, expectedAccepted: [], wellFormed: true, execute: true, expectSplat: false, corruptsKernel: false } }));
    const runner = createEmulatorRunner({ workDir: join(tmpdir(), `kptr-emu-pool-${process.pid}`), maxPerBatch: 10, threads });
    const stop = new AbortController();
    const reason = new Error('stopped by the test');
    const delivered: string[] = [];
    const run = runner.run(cases, { signal: stop.signal, onObservation: (o) => { delivered.push(o.scenarioId); stop.abort(reason); } });
    await expect(run).rejects.toBe(reason);
    // nothing is delivered after the stop but the rest of the batch being delivered when it came
    expect(delivered.length).toBeLessThanOrEqual(10);
    // a stopped pool is replaced: the same runner still works
    expect((await runner.run(cases.slice(0, 20))).map((o) => o.scenarioId)).toEqual(cases.slice(0, 20).map((c) => c.scenario.id));
  }, 120_000);
});
