/**
 * A history-dependent regression scenario replayed in a fresh guest, as a user replays it. Whether the kernel hands
 * the dropped per-CPU object out again is the kernel's business (a fixed build does not): the test reads what the
 * guest observed and checks that the tool says so, the known divergence when puc_fresh read a dropped object's
 * bytes, "as predicted" when it read 0.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Summary } from '../../reports/summary.ts';
import type { CaseResult, Observation } from '../../types/index.ts';
import { kptrConform } from '../helpers/cli.ts';
import { needsKernelImage } from '../helpers/needs.ts';

const KERNEL = '6.12';
const SCENARIO = fileURLToPath(new URL('../../specs/regressions/percpu_obj_new_uncleared.yaml', import.meta.url));

describe('replay of the percpu_obj_new_uncleared regression scenario in a guest', () => {
  it(`should report the known divergence when ${KERNEL} reuses the dropped object uncleared, and as predicted when not`, async (ctx) => {
    await needsKernelImage(ctx, KERNEL);
    const out = await mkdtemp(join(tmpdir(), 'kptr-puc-'));
    const run = await kptrConform(['replay', SCENARIO, '--runner', 'vm', '--kernel', KERNEL, '--lanes', '1', '--out', out, '--quiet']);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Summary;
    const [line] = (await readFile(join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { observation: Observation; result: CaseResult });
    const { observation, result } = line!;
    expect(observation.error).toBeNull();
    // both grace periods waited for, every run there: steps 0 and 2 (puc_dirty), 4 twice (puc_fresh)
    expect(observation.runs.map((r) => [r.step, r.iteration, r.program, r.err])).toEqual([
      [0, 0, 'puc_dirty', null], [2, 0, 'puc_dirty', null], [4, 0, 'puc_fresh', null], [4, 1, 'puc_fresh', null],
    ]);
    const reused = observation.runs.some((r) => r.program === 'puc_fresh' && r.globals.puc_seen !== '0');
    console.log(`${KERNEL}: puc_fresh read ${observation.runs.filter((r) => r.program === 'puc_fresh').map((r) => r.globals.puc_seen).join(', ')}`);
    expect(run.exitCode).toBe(0);
    expect([result.status, result.divergences]).toEqual(reused ? ['divergence', ['percpu_obj_new_uncleared']] : ['pass', []]);
    expect(result.mismatches.every((m) => m.kind === 'value' && m.program === 'puc_fresh')).toBe(true);
    expect(summary).toMatchObject({ cases: 1, failed: 0, errors: 0, divergent: reused ? 1 : 0, passed: reused ? 0 : 1 });
  });
});
