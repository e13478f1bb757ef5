/**
 * Concurrent steps in guests (6.12, 6.18, 7.3) with 2 CPUs: two programs built to race on one __percpu_kptr slot run at once
 * (runners/native/harness.c concurrent_line), and what the guest observed must be one of the outcomes the oracle
 * predicts for every interleaving (Prediction.outcomes). Which interleaving the guest took is its business: the test
 * logs how many cases saw an outcome other than the serial one, and asserts only membership.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { raceProgram, type RaceKind } from '../../generators/_internals/raceProgram.ts';
import { predict } from '../../oracle/predict.ts';
import { compare } from '../../judge/compare.ts';
import { createVmRunner } from '../../runners/vm/index.ts';
import { loadSpec } from '../../specs/load.ts';
import type { MapType, Prediction, Scenario } from '../../types/index.ts';
import { needsKernelImage } from '../helpers/needs.ts';

const KERNELS = ['6.12', '6.18', '7.3'];
const COPIES = 8;

/** c0 and c1 (kinds `pair`) race on slot `<id>_m` after c3 put an object in it; the reader c2 runs after. */
function race(id: string, pair: readonly [RaceKind, RaceKind], mapType: MapType): Scenario {
  const struct = `${id}_t`;
  const slot = `${id}_m`;
  const built = ([['c0', pair[0], '1'], ['c1', pair[1], '2'], ['c2', 'read', '0'], ['c3', 'swap', '3']] as const).map(([name, kind, value], i) =>
    raceProgram({ name: `${id}_${name}`, kind, progType: 'tc', slot, struct, field: 'c', value, cpu: 0, global: `${id}_g${i}` }));
  const [c0, c1, c2, c3] = built.map((b) => b.program.name) as [string, string, string, string];
  return {
    id,
    description: `${pair.join(' against ')} on ${mapType}`,
    origin: null,
    intent: { kind: 'valid' },
    structs: [{ name: struct, members: [{ kind: 'scalar', name: 'c', ctype: '__u64', count: null }] }],
    slots: [{ name: slot, home: { kind: 'map', mapType }, pointee: struct, tag: 'percpu_kptr' }],
    globals: built.flatMap((b) => b.globals),
    programs: built.map((b) => b.program),
    schedule: [
      { program: c3, cpu: 0, repeat: 1 },
      { concurrent: [{ program: c0, cpu: 0, repeat: 1 }, { program: c1, cpu: 1, repeat: 1 }] },
      { program: c2, cpu: 0, repeat: 1 },
    ],
  };
}

describe('concurrent steps in a guest', () => {
  it.for(KERNELS)('should observe on %s one of the outcomes the oracle predicts for every interleaving', async (kernel, ctx) => {
    await needsKernelImage(ctx, kernel);
    const spec = loadSpec();
    const pairs: readonly (readonly [RaceKind, RaceKind])[] = [['swap', 'swap'], ['swap', 'take'], ['sum', 'sum'], ['swap', 'sum']];
    const scenarios = pairs.flatMap((pair, p) => Array.from({ length: COPIES }, (_, i) => race(`cc${p}_${i}`, pair, i % 2 === 0 ? 'array' : 'hash')));
    const runner = createVmRunner({ kernel, workDir: await mkdtemp(join(tmpdir(), 'kptr-vm-conc-')), lanes: 1 });
    const observations = await runner.run(scenarios.map((scenario) => ({
      scenario,
      plan: { scenarioId: scenario.id, expectedAccepted: scenario.programs.map((x) => x.name), wellFormed: true, execute: true, expectSplat: false, corruptsKernel: false },
    })));
    let interleaved = 0;
    for (const [i, o] of observations.entries()) {
      const s = scenarios[i]!;
      const p: Prediction = predict(s, { version: o.kernel.version, nrCpus: o.kernel.nrCpus, divergences: [] }, spec);
      expect(o.kernel.nrCpus).toBe(2);
      expect(p.outcomesComplete).toBe(true);
      expect(p.outcomes!.length).toBeGreaterThan(1);
      // both racing runs ran, on their CPUs, in the concurrent step
      expect(o.runs.filter((r) => r.step === 1).map((r) => r.cpu).sort()).toEqual([0, 1]);
      const r = compare(p, o);
      expect([s.description, r.status, r.mismatches.map((m) => `${m.expected} / ${m.observed}`)]).toEqual([s.description, 'pass', []]);
      // the serial outcome is the first; another one means the runs did interleave
      if (compare({ ...p, outcomes: undefined }, o).status !== 'pass') interleaved++;
    }
    console.log(`${kernel}: ${interleaved}/${scenarios.length} concurrent cases observed an outcome other than c0 before c1`);
  });
});
