import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Summary } from '../../reports/summary.ts';
import { scenarioKfuncs } from '../../compile/codegen/scenarioKfuncs.ts';
import { loadSelftests, loadSpec } from '../../specs/load.ts';
import type { CaseResult, Observation } from '../../types/index.ts';
import { kptrConform } from '../helpers/cli.ts';
import { needsKernelImage } from '../helpers/needs.ts';

interface ResultLine {
  readonly scenarioId: string;
  readonly observation: Observation;
  readonly result: CaseResult;
}

/** `kptr-conform selftests --runner vm --kernel K` as a user runs it; its exit code, summary and results. */
async function selftestsOn(kernel: string) {
  const out = await mkdtemp(join(tmpdir(), `kptr-st-${kernel}-`));
  const run = await kptrConform(['selftests', '--runner', 'vm', '--kernel', kernel, '--out', out, '--quiet']);
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Summary;
  const results = (await readFile(join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as ResultLine);
  return { run, summary, results };
}

const cases = loadSelftests();
const spec = loadSpec();

/**
 * The tool's contract on any kernel, whatever it has fixed: each probed divergence's case is reported as that
 * divergence exactly where the kernel's probe shows it, and a plain pass where not; a probe that is absent on a kernel
 * its range includes is listed as fixed in this build.
 */
function expectProbedDivergences(summary: Summary, results: readonly ResultLine[]): void {
  for (const d of spec.divergences) {
    if (d.kind === 'value') continue;
    const probe = summary.knownDivergences.probes.find((p) => p.divergenceId === d.id)!;
    expect(probe.status, `${d.id}: ${probe.detail}`).not.toBe('unprobed');
    const r = results.find((x) => x.scenarioId === d.probe.case)!;
    expect([r.result.status, r.result.divergences], d.id).toEqual(probe.status === 'shown' ? ['divergence', [d.id]] : ['pass', []]);
    expect(summary.knownDivergences.fixedInThisBuild.includes(d.id), d.id).toBe(probe.status === 'absent' && probe.inRange);
  }
}

describe('built-in selftests in a guest', () => {
  it('should pass every case on 6.12, fentry and fentry.s programs included, known divergences reported as such', async (ctx) => {
    await needsKernelImage(ctx, '6.12');
    const { run, summary, results } = await selftestsOn('6.12');
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(summary).toMatchObject({ runner: 'vm', cases: cases.length, failed: 0, errors: 0, skipped: 0 });
    expect(summary.passed + summary.divergent).toBe(cases.length);
    // the upstream programs ran as upstream wrote them (fentry / fentry.s), not retargeted as on the host
    const array = results.find((r) => r.scenarioId === 'percpu_alloc_array')!;
    expect(array.result.status).toBe('pass');
    expect(array.observation.runs.at(-1)?.globals).toMatchObject({ cpu0_field_d: '2', sum_field_c: '1' });
    expect(cases.find((c) => c.scenario.id === 'percpu_alloc_array')!.scenario.programs.every((p) => p.progType === 'fentry')).toBe(true);
    expectProbedDivergences(summary, results);
  });

  it('should report the 6.18 verifier-bug divergence where the kernel\'s probe shows it, splat and all', async (ctx) => {
    await needsKernelImage(ctx, '6.18');
    const { run, summary, results } = await selftestsOn('6.18');
    expect(run.exitCode).toBe(0);
    expect(summary).toMatchObject({ cases: cases.length, failed: 0, errors: 0 });
    // a store through an element kept past bpf_rcu_read_unlock: 6.18.15 WARNs "verifier bug" instead of refusing
    // it; the fix reached 6.18.y by .44, and `kernels fetch 6.18` takes whatever trixie-backports has now
    const id = 'untrusted_alloc_write_verifier_bug';
    const uw = results.find((r) => r.scenarioId === 'uw_elem')!;
    if (summary.knownDivergences.shown.includes(id)) {
      expect(uw.result.status).toBe('divergence');
      expect(uw.result.divergences).toEqual([id]);
      expect(uw.observation.splats.map((s) => s.kind)).toEqual(['verifier_bug']);
      expect(uw.observation.splats[0]!.text).toContain('ref_obj_id for allocated object must be non-zero');
    } else {
      expect(uw.result.status).toBe('pass');
    }
    // bpf_kptr_xchg of a bpf_this_cpu_ptr element: a verifier WARN inside that program's load, so the harness's
    // `logged` marker pins the splat on xr_elem_p0 itself
    const xr = results.find((r) => r.scenarioId === 'xr_elem')!;
    if (summary.knownDivergences.shown.includes('rcu_alloc_xchg_src_verifier_bug')) {
      expect(xr.observation.splats.map((s) => [s.kind, s.during])).toEqual([['verifier_bug', 'xr_elem_p0']]);
    } else {
      expect(xr.observation.splats).toEqual([]);
    }
    expectProbedDivergences(summary, results);
    // a splat is only ever charged to a scenario whose known divergence explains it
    expect(results.filter((r) => r.observation.splats.length > 0 && r.result.status !== 'divergence').map((r) => r.scenarioId)).toEqual([]);
  });

  it('should pass every case on 7.3, reporting a plain object into a __percpu_kptr field as its probe finds it', async (ctx) => {
    await needsKernelImage(ctx, '7.3');
    const { run, summary, results } = await selftestsOn('7.3');
    expect(run.exitCode).toBe(0);
    expect(summary).toMatchObject({ runner: 'vm', cases: cases.length, failed: 0, errors: 0, skipped: 0 });
    expect(summary.kernel.version).toMatch(/^7\.3\./);
    // 6.18.15 accepts it (known divergence plain_obj_into_percpu, host-unsafe) and 7.3.4 refused it when measured;
    // whichever this 7.3 does, its probe says, and the case is reported accordingly (never executed where accepted)
    const shown = summary.knownDivergences.shown.includes('plain_obj_into_percpu');
    const plain = results.find((r) => r.scenarioId === 'gt16_xchg_obj_new_nonpercpu')!;
    expect(plain.result.status).toBe(shown ? 'divergence' : 'pass');
    expect(plain.observation.programs.map((p) => p.verdict)).toEqual([shown ? 'accepted' : 'rejected']);
    expect(summary.knownDivergences.seenOutsideRange.includes('plain_obj_into_percpu')).toBe(shown);
    expectProbedDivergences(summary, results);
    const array = results.find((r) => r.scenarioId === 'percpu_alloc_array')!;
    expect(array.observation.runs.at(-1)?.globals).toMatchObject({ cpu0_field_d: '2', sum_field_c: '1' });
  });

  it('should show on 6.1 that every scenario calling a kfunc is refused as not supported by the kernel', async (ctx) => {
    await needsKernelImage(ctx, '6.1');
    const { run, summary, results } = await selftestsOn('6.1');
    expect(run.exitCode).toBe(0);
    expect(summary).toMatchObject({ cases: cases.length, failed: 0, errors: 0 });
    const withKfuncs = cases.filter((c) => scenarioKfuncs(c.scenario).length > 0);
    expect(withKfuncs.length).toBeGreaterThan(40);
    for (const c of withKfuncs) {
      const programs = results.find((r) => r.scenarioId === c.scenario.id)!.observation.programs;
      expect(programs.map((p) => (p.verdict === 'rejected' ? [p.stage, p.log.trim()] : p.verdict)), c.scenario.id).toEqual(
        programs.map(() => ['libbpf', expect.stringMatching(/^libbpf: extern \(func ksym\) 'bpf_\w+': not found in kernel or module BTFs$/)]),
      );
    }
  });
});
