/**
 * The campaign's prediction pool (cli/predictor.ts) predicts what the oracle predicts in this thread, in the same
 * order, for a slice larger than one task; a stopped slice rejects with the stop's reason.
 */
import { describe, expect, it } from 'vitest';
import { predictOn } from '../../../cli/pipeline.ts';
import { createPredictor } from '../../../cli/predictor.ts';
import { prefixScenario } from '../../../generators/prefixScenario.ts';
import { scenario } from '../../../generators/scenario.ts';
import { generateValues } from '../../../campaign/shrink.ts';
import { loadSpec } from '../../../specs/load.ts';
import type { ProbedKernel } from '../../../types/index.ts';

const spec = loadSpec();
const kernel: ProbedKernel = { release: '6.18.44', version: '6.18.44', nrCpus: 2, machine: 'emulator', divergences: [] };
const scenarios = [...generateValues(scenario({ mode: 'mixed', progTypes: ['tc', 'syscall', 'fentry', 'fentry.s'], nrCpus: 2 }), 11, 130)]
  .map((v, i) => prefixScenario(v.value_, `pp11_${i}`));

describe('createPredictor', () => {
  it('should give, from two pool threads, the predictions of this thread in scenario order', async () => {
    const pooled = createPredictor(kernel, spec, 2);
    try {
      const got = await pooled.predict(scenarios);
      expect(got.map((p) => p.scenarioId)).toEqual(scenarios.map((s) => s.id));
      expect(got).toEqual(scenarios.map((s) => predictOn(kernel, spec, s)));
      // the slice held accepted and rejected programs both, so the comparison covered both kinds of prediction
      const verdicts = new Set(got.flatMap((p) => p.programs.map((x) => x.verdict)));
      expect([...verdicts].sort()).toEqual(['accepted', 'rejected']);
    } finally {
      await pooled.close();
    }
  }, 60_000);

  it('should reject a stopped slice with the stop reason, in a thread or in the pool', async () => {
    for (const threads of [0, 1]) {
      const p = createPredictor(kernel, spec, threads);
      try {
        const stop = new AbortController();
        const reason = new Error('stopped by the test');
        const slice = p.predict(scenarios, stop.signal);
        stop.abort(reason);
        await expect(slice).rejects.toBe(reason);
      } finally {
        await p.close();
      }
    }
  }, 60_000);
});
