/**
 * The emulator runner on the built-in selftests (specs/selftests/*.yaml: upstream percpu_alloc_*, the ground truth
 * and the measured single-rule cases), per kernel profile: each program's verdict and messages, and the globals after
 * the schedule, must be those the case records for that kernel. A case with a known divergence on that kernel records
 * the correct kernel's outcome, not this kernel's, and is checked against the divergence's kind instead.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROFILE_NAMES, loadProfile } from '../../../emulator/verifier/profile.ts';
import { CODEGENS } from '../../../compile/buildObject.ts';
import { createEmulatorRunner } from '../../../runners/emulator/index.ts';
import { needs } from '../../helpers/needs.ts';
import { matchMessages } from '../../../judge/matchMessages.ts';
import { loadSelftests, loadSpec } from '../../../specs/load.ts';
import { parseKernelVersion, versionInRange } from '../../../specs/versionRange.ts';
import type { Observation, SelftestCase } from '../../../types/index.ts';

const spec = loadSpec();
const cases = loadSelftests();

/** Mismatches of one observation against the case's expectations for `version`; divergent cases are listed apart. */
function judge(c: SelftestCase, o: Observation, version: string): { mismatches: string[]; divergent: string | null; judged: number } {
  const divergence = spec.divergences.find((d) => c.divergences.includes(d.id) && d.kind !== 'value' && versionInRange(version, d.kernels));
  const mismatches: string[] = [];
  let judged = 0;
  if (o.error !== null) mismatches.push(`${c.scenario.id}: ${o.error.code}: ${o.error.message}`);
  for (const p of o.programs) {
    const e = c.expect.programs.find((x) => x.program === p.program && versionInRange(version, x.kernels));
    if (e === undefined) continue;
    judged++;
    const got = p.verdict === 'accepted' ? 'accepted' : `rejected: ${p.log.split('\n')[0]}`;
    const ok = p.verdict === e.verdict && (p.verdict === 'accepted' || matchMessages(p.log, e.msgs).ok);
    if (!ok) mismatches.push(`${c.scenario.id}/${p.program}: want ${e.verdict} ${JSON.stringify(e.msgs)}, got ${got}`);
  }
  const last = o.runs.at(-1);
  const valueDivergence = spec.divergences.some((d) => c.divergences.includes(d.id) && d.kind === 'value' && versionInRange(version, d.kernels));
  if (last !== undefined && !valueDivergence && o.splats.length === 0) {
    for (const [g, v] of Object.entries(c.expect.globals)) {
      if (last.globals[g] !== v) mismatches.push(`${c.scenario.id}: global ${g} want ${v}, got ${last.globals[g]}`);
    }
  }
  return divergence
    ? { mismatches: [], divergent: `${c.scenario.id} (${divergence.id}): ${mismatches.join('; ') || 'as the correct kernel'}`, judged: 0 }
    : { mismatches, divergent: null, judged };
}

describe('emulator runner on the built-in selftests', () => {
  for (const codegen of CODEGENS) for (const kernel of PROFILE_NAMES) {
    it(`should give the recorded outcome of every case on ${kernel} (${codegen} objects)`, async (ctx) => {
      if (codegen === 'clang') await needs(ctx, 'clang');
      const version = parseKernelVersion(loadProfile(kernel).release);
      const runner = createEmulatorRunner({ kernel, codegen, workDir: join(tmpdir(), `kptr-emu-${process.pid}`) });
      const plan = (id: string) => ({ scenarioId: id, expectedAccepted: [], wellFormed: true, execute: true, expectSplat: false, corruptsKernel: false });
      const obs = await runner.run(cases.map((c) => ({ scenario: c.scenario, plan: plan(c.scenario.id) })));
      const results = cases.map((c, i) => judge(c, obs[i]!, version));
      const divergent = results.flatMap((r) => (r.divergent === null ? [] : [r.divergent]));
      if (divergent.length > 0) console.log(`${kernel}: divergent cases (not judged):\n  ${divergent.join('\n  ')}`);
      expect(results.reduce((n, r) => n + r.judged, 0)).toBeGreaterThan(40);
      expect(results.flatMap((r) => r.mismatches)).toEqual([]);
    });
  }
});
