import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonlReporter } from '../../../reports/jsonl.ts';
import { reporterOptions, sampleCases } from './fixtures/sample.ts';

describe('jsonlReporter', () => {
  it('should write one line per case in order, even when onCase is not awaited', async () => {
    const options = await reporterOptions();
    const reporter = jsonlReporter(options);
    const cases = sampleCases();
    for (const c of cases) void reporter.onCase(c.result, c.prediction, c.observation, null);
    await reporter.onEnd([]);
    const lines = (await readFile(join(options.outDir, 'results.jsonl'), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.scenarioId)).toEqual(cases.map((c) => c.result.scenarioId));
    expect(lines[0]).toEqual({
      scenarioId: 'rp_pass', runner: 'host', kernel: cases[0]!.observation.kernel,
      prediction: cases[0]!.prediction, observation: cases[0]!.observation, result: cases[0]!.result,
      durations: { loadNs: 4000, runNs: 1500 },
    });
  });

  it('should leave an empty results.jsonl for a run without cases', async () => {
    const options = await reporterOptions();
    const reporter = jsonlReporter(options);
    await reporter.onEnd([]);
    expect(await readFile(join(options.outDir, 'results.jsonl'), 'utf8')).toBe('');
  });
});
