import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testProgsJsonReporter, type TestProgsJson } from '../../../reports/testProgsJson.ts';
import { KERNEL } from './fixtures/cases.ts';
import { reporterOptions, sampleCases, type SampleCase } from './fixtures/sample.ts';

/** test_progs.json as the reporter writes it; `check` runs after every case, flushed, on the file as it stands. */
async function testProgsOf(cases: readonly SampleCase[], kernels = 1, check?: (json: TestProgsJson, n: number) => void): Promise<TestProgsJson> {
  const options = await reporterOptions({ kernels });
  const reporter = testProgsJsonReporter(options);
  const read = async (): Promise<TestProgsJson> => JSON.parse(await readFile(join(options.outDir, 'test_progs.json'), 'utf8')) as TestProgsJson;
  for (const [i, c] of cases.entries()) {
    await reporter.onCase(c.result, c.prediction, c.observation, null);
    if (check === undefined) continue;
    reporter.flush!();
    check(await read(), i + 1);
  }
  await reporter.onEnd([]);
  return read();
}

describe('testProgsJsonReporter', () => {
  it('should write the exact key set of test_progs -J, and the bugs counted apart', async () => {
    const options = await reporterOptions();
    const reporter = testProgsJsonReporter(options);
    for (const c of sampleCases()) await reporter.onCase(c.result, c.prediction, c.observation, null);
    await reporter.onEnd([]);
    const json = JSON.parse(await readFile(join(options.outDir, 'test_progs.json'), 'utf8')) as Record<string, unknown> & { results: Record<string, unknown>[] };
    expect(Object.keys(json)).toEqual(['success', 'success_subtest', 'skipped', 'failed', 'bugs', 'results']);
    for (const t of json.results) {
      expect(Object.keys(t)).toEqual(['name', 'number', 'message', 'failed', 'subtests']);
      for (const s of t.subtests as Record<string, unknown>[]) expect(Object.keys(s)).toEqual(['name', 'number', 'message', 'failed']);
    }
  });

  it('should count like test_progs: divergences succeed, skips apart, errors fail', async () => {
    const json = await testProgsOf(sampleCases());
    expect({ success: json.success, skipped: json.skipped, failed: json.failed }).toEqual({ success: 2, skipped: 1, failed: 2 });
    const fail = json.results.find((t) => t.name === 'rp_fail')!;
    expect(fail).toMatchObject({ number: 2, failed: true });
    expect(fail.subtests.map((s) => [s.name, s.number, s.failed])).toEqual([['rp1_store', 1, true], ['rp1_sum_it', 2, true], ['rp1_leak', 3, true]]);
    // 3 + 0 (fail) + 0 (skip) + 3 (divergence: explained, not failed) + 3 (error: mismatch not on a program)
    expect(json.success_subtest).toBe(9);
    expect(json.results.find((t) => t.name === 'rp_div')!.message).toContain('known divergence: div_demo');
    expect(json.results.find((t) => t.name === 'rp_skip')!.message).toMatch(/^SKIP: program type fentry/);
  });

  it('should suffix names with @runner/kernel when several kernels share the file', async () => {
    const cases = [...sampleCases(), ...sampleCases({ ...KERNEL, release: '6.12.117' })];
    const json = await testProgsOf(cases, 2);
    expect(json.results.map((t) => t.name)).toContain('rp_pass @host/6.12.117');
    expect(new Set(json.results.map((t) => t.name)).size).toBe(10);
  });

  it('should be a complete test_progs.json with the counts so far after every flushed case, before onEnd', async () => {
    const cases = [...sampleCases(), ...sampleCases()];
    const seen: number[] = [];
    await testProgsOf(cases, 1, (json, n) => {
      seen.push(json.results.length);
      expect(json.success + json.skipped + json.failed).toBe(n);
    });
    expect(seen).toEqual(cases.map((_, i) => i + 1));
  });
});
