import { describe, expect, it } from 'vitest';
import { checkScenarios } from '../../cli/pipeline.ts';
import { retargetProgTypes } from '../../cli/retarget.ts';
import { expectationFromCase } from '../../cli/selftestExpectation.ts';
import { prefixScenario } from '../../generators/prefixScenario.ts';
import { scenario } from '../../generators/scenario.ts';
import { kernelDivergenceLines, kernelDivergences } from '../../reports/kernelDivergences.ts';
import { generateValues } from '../../campaign/shrink.ts';
import { loadSelftests, loadSpec } from '../../specs/load.ts';
import type { SelftestCase } from '../../types/index.ts';
import { hostSession, probeOf } from '../helpers/hostSession.ts';
import { needs } from '../helpers/needs.ts';

const spec = loadSpec();

async function runSelftests(cases: readonly SelftestCase[]) {
  const { runner, kernel, available } = await hostSession(spec);
  const byId = new Map(cases.map((c) => [c.scenario.id, { ...c, scenario: retargetProgTypes(c.scenario, available) }]));
  const checked = await checkScenarios({
    runner, kernel, spec, scenarios: [...byId.values()].map((c) => c.scenario),
    expectationFor: (s, oracle) => expectationFromCase(byId.get(s.id)!, oracle, spec, kernel.divergences),
  });
  return { checked, kernel };
}

describe('selftests on the host kernel', () => {
  it('should pass every upstream and ground-truth case, reporting a known divergence exactly where this kernel shows it', async (ctx) => {
    await needs(ctx, 'kernel');
    const { checked, kernel } = await runSelftests(loadSelftests());
    const bad = checked.filter((c) => c.result.status === 'fail' || c.result.status === 'error');
    expect(bad.map((c) => `${c.scenario.id}: ${c.result.mismatches.map((m) => m.detail).join('\n')}`)).toEqual([]);
    // the upstream sequence really ran and produced upstream's values
    const arr = checked.find((c) => c.scenario.id === 'percpu_alloc_array')!;
    expect(arr.observation.runs.at(-1)?.globals).toMatchObject({ cpu0_field_d: '2', sum_field_c: '1' });
    // each probed divergence: its probe case is that divergence where the probe shows it, and a plain pass where not
    const lines = kernelDivergenceLines(kernelDivergences(kernel.divergences), kernel.release);
    for (const d of spec.divergences) {
      if (d.kind === 'value') continue;
      const probe = probeOf(kernel, d.id);
      expect(probe.status, `${d.id}: ${probe.detail}`).not.toBe('unprobed');
      const c = checked.find((x) => x.scenario.id === d.probe.case)!;
      const verdict = c.observation.programs.find((p) => p.program === d.probe.program)?.verdict;
      if (probe.status === 'shown') {
        expect([verdict, c.result.status, c.result.divergences], d.id).toEqual([d.probe.verdict, 'divergence', [d.id]]);
      } else {
        expect(c.result.status, d.id).toBe('pass');
        expect(lines.some((l) => l.startsWith(`  ${d.id}: fixed in this build (${kernel.release})`)), d.id).toBe(probe.inRange);
      }
    }
    // case 16 (plain object into a __percpu_kptr field) is never executed on the host, whatever the kernel says
    const c16 = checked.find((c) => c.scenario.id.startsWith('gt16'))!;
    expect(c16.observation.runs).toEqual([]);
  });

  it('should fail with a readable diff when an expectation is wrong', async (ctx) => {
    await needs(ctx, 'kernel');
    const original = loadSelftests().find((c) => c.scenario.id === 'percpu_alloc_fail_1')!;
    const wrong: SelftestCase = {
      ...original,
      expect: { ...original.expect, programs: original.expect.programs.map((p) => ({ ...p, msgs: ['store to referenced kptr is fine'] })) },
    };
    const [c] = (await runSelftests([wrong])).checked;
    expect(c!.result.status).toBe('fail');
    const m = c!.result.mismatches[0]!;
    expect(m.kind).toBe('message');
    expect(m.detail).toContain('EXPECTED');
    expect(m.detail).toContain('store to referenced kptr disallowed');
  });
});

describe('campaign on the host kernel', () => {
  it('should show 0 unexplained mismatches for a fixed seed', async (ctx) => {
    await needs(ctx, 'kernel');
    const { runner, kernel, available } = await hostSession(spec);
    const progTypes = (['tc', 'syscall'] as const).filter((t) => available[t]);
    const arb = scenario({ mode: 'mixed', progTypes: [...progTypes], nrCpus: kernel.nrCpus });
    const scenarios = [...generateValues(arb, 7, 300)].map((v, i) => prefixScenario(v.value_, `ci7_${i}`));
    const checked = await checkScenarios({ runner, kernel, spec, scenarios });
    const unexplained = checked.filter((c) => c.result.status === 'fail' || c.result.status === 'error');
    expect(unexplained.map((c) => `${c.scenario.id} ${c.scenario.description}: ${c.result.mismatches.map((m) => `${m.kind} ${m.expected} / ${m.observed}`).join('; ')}`)).toEqual([]);
    // the campaign exercised both verdicts and executed accepted programs
    expect(checked.filter((c) => c.observation.runs.length > 0).length).toBeGreaterThan(50);
    expect(checked.filter((c) => c.observation.programs.some((p) => p.verdict === 'rejected')).length).toBeGreaterThan(50);
  });
});
