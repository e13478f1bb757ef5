import { describe, expect, it } from 'vitest';
import { summarize } from '../../../reports/summary.ts';
import { PROBED_KERNEL } from './fixtures/cases.ts';
import { sampleCases } from './fixtures/sample.ts';

describe('summarize', () => {
  const meta = { runner: 'host' as const, kernel: PROBED_KERNEL, seed: 42, durationMs: 2000, ruleIds: ['refs.unreleased', 'per_cpu_ptr.arg_type'] };

  it('should count each status apart and sort mismatches into unexplained and known', () => {
    const results = sampleCases().map((c) => c.result);
    const s = summarize(results, meta);
    expect(s).toMatchObject({
      runner: 'host',
      runnerChosen: null,
      kernel: { release: '6.18.44-fc-v669', version: '6.18.44', nrCpus: 2 },
      seed: 42,
      cases: 5, passed: 1, failed: 1, skipped: 1, divergent: 1, errors: 1,
      casesPerSecond: 2.5,
      findings: [],
    });
    const fail = results.find((r) => r.status === 'fail')!;
    const err = results.find((r) => r.status === 'error')!;
    expect(s.mismatches.unexplained).toBe(fail.mismatches.length + err.mismatches.length);
    expect(s.mismatches.knownDivergences).toBe(1);
    expect(s.mismatches.byKind).toEqual({ verdict_kernel_accepts: 2, verdict_kernel_rejects: 0, message: 0, value: 1, map_op: 0, leak: 0, splat: 1, runner_error: 1 });
    // the known divergence that explained the divergent case, counted by case
    expect(s.divergenceCases).toEqual({ div_demo: 1 });
  });

  it('should count rule coverage over cases that ran, listing rules no case reached', () => {
    const s = summarize(sampleCases().map((c) => c.result), meta);
    // pass, fail and divergence exercised refs.unreleased; skip and error do not count
    expect(s.ruleCoverage).toEqual({ hit: 1, total: 2, byRule: { 'refs.unreleased': 3, 'per_cpu_ptr.arg_type': 0 } });
  });

  it('should count the cases that ran by the schedule steps and kptr homes they held, results from before the field included', () => {
    const [pass, ...rest] = sampleCases().map((c) => c.result);
    const held = (r: typeof pass, exercises: string[]) => ({ ...r!, exercises });
    const results = [
      held(pass, ['home map lru_hash', 'step free_maps', 'step run']),
      ...rest.map((r) => held(r, ['home global bss', 'step run'])),
      { ...pass!, exercises: undefined },
    ];
    // skip and error cases do not count; a result without the field counts for nothing
    expect(summarize(results, meta).exerciseCoverage).toEqual({ 'home global bss': 2, 'home map lru_hash': 1, 'step free_maps': 1, 'step run': 3 });
  });

  it('should give zero rates for an empty run rather than NaN', () => {
    const s = summarize([], { ...meta, durationMs: 0 });
    expect(s.cases).toBe(0);
    expect(s.casesPerSecond).toBe(0);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});
