import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefixScenario } from '../../../generators/prefixScenario.ts';
import { scenario } from '../../../generators/scenario.ts';
import { predict } from '../../../oracle/predict.ts';
import { unexplainedMismatches } from '../../../judge/compare.ts';
import { createEmulatorRunner } from '../../../runners/emulator/index.ts';
import { hostRefusesScenario } from '../../../runners/host/safety.ts';
import { loadSpec } from '../../../specs/load.ts';
import { checkScenarioRefs, parseScenario } from '../../../specs/scenarioSchema.ts';
import type { ConcurrentStep, Prediction, ProgramPrediction, Scenario } from '../../../types/index.ts';

const spec = loadSpec();
const target = { version: '6.18.44', nrCpus: 2, divergences: [] };
const concurrentOf = (s: Scenario): ConcurrentStep | undefined => s.schedule.find((x): x is ConcurrentStep => 'concurrent' in x);

describe('race programs and concurrent steps in generated scenarios', () => {
  const samples = (mode: 'valid' | 'mixed', numRuns: number): Scenario[] =>
    fc.sample(scenario({ mode, concurrentFreq: 1, progTypes: ['tc', 'syscall'] }), { seed: 21, numRuns }).map((s, i) => prefixScenario(s, `cs${i}`));

  it('should be generated only when asked, on CPUs 0 and 1, well-formed, and kept off the host', () => {
    const all = samples('mixed', 80);
    // none where no __percpu_kptr slot's pointee can be allocated per CPU
    expect(all.filter((s) => concurrentOf(s) !== undefined).length).toBeGreaterThan(40);
    for (const s of all) {
      const c = concurrentOf(s);
      if (c === undefined) continue;
      expect(c.concurrent.map((r) => r.cpu).sort()).toEqual([0, 1]);
      expect(checkScenarioRefs(s)).toEqual([]);
      expect(() => parseScenario(JSON.parse(JSON.stringify(s)), s.id)).not.toThrow();
      expect(hostRefusesScenario(s)).toMatch(/VM only/);
    }
    expect(fc.sample(scenario({ mode: 'valid' }), { seed: 21, numRuns: 60 }).some((s) => concurrentOf(s) !== undefined)).toBe(false);
  });

  it('should give valid race programs the oracle accepts, with every interleaving enumerated and some races with several outcomes', () => {
    const predictions = samples('valid', 60).filter((s) => concurrentOf(s) !== undefined).map((s) => predict(s, target, spec));
    const race = (p: Prediction): ProgramPrediction[] => p.programs.filter((x) => /_c\d$/.test(x.program));
    expect(predictions.every((p) => race(p).length >= 3 && race(p).every((x) => x.verdict === 'accepted') && p.outcomesComplete === true)).toBe(true);
    expect(predictions.filter((p) => (p.outcomes?.length ?? 0) > 1).length).toBeGreaterThan(10);
  });

  it('should give, on the emulator (one run after the other), an observation among the outcomes', async () => {
    const cases = samples('mixed', 40);
    const runner = createEmulatorRunner({ kernel: '6.18', codegen: 'direct', workDir: join(tmpdir(), `kptr-emu-race-${process.pid}`) });
    const plan = (s: Scenario) => ({ scenarioId: s.id, expectedAccepted: [], wellFormed: true, execute: true, expectSplat: false, corruptsKernel: false });
    const observations = await runner.run(cases.map((s) => ({ scenario: s, plan: plan(s) })));
    for (const [i, o] of observations.entries()) {
      const p = predict(cases[i]!, { ...target, version: o.kernel.version }, spec);
      // a break a divergent kernel (profile) accepts changes what follows: that is explained, not a mismatch here
      const valueMismatches = unexplainedMismatches(p, o).filter((m) => m.kind === 'value' || m.kind === 'map_op');
      expect([cases[i]!.id, valueMismatches]).toEqual([cases[i]!.id, []]);
    }
  });
});
