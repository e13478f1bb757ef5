import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSpec } from '../../specs/load.ts';
import { versionInRange } from '../../specs/versionRange.ts';
import { kptrConform, readResults, readSummary, REPO_ROOT } from '../helpers/cli.ts';
import { needs } from '../helpers/needs.ts';

// Regression rax on the host, load only (its schedule is empty): bpf_kptr_xchg with a MEM_ALLOC|MEM_RCU source. Some
// kernels answer with a verifier bug (EFAULT, and a WARN the first time per boot); this one's probe decides what the
// tool must report. Never assumes the host has the bug.
const ID = 'rcu_alloc_xchg_src_verifier_bug';
const base = mkdtempSync(join(tmpdir(), 'kptr-warn-'));
afterAll(() => rm(base, { recursive: true, force: true }));

describe('a verifier-bug WARN at load (divergence rcu_alloc_xchg_src_verifier_bug)', () => {
  it('should explain the case by the divergence where the probe shows it, report it fixed in this build where not, and pin any splat on its program', async (ctx) => {
    await needs(ctx, 'kernel');
    const out = join(base, 'replay');
    const r = await kptrConform(['replay', join(REPO_ROOT, 'specs/regressions/rcu_alloc_xchg_src.yaml'), '--runner', 'host', '--out', out]);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const summary = await readSummary(out);
    const [line] = await readResults(out);
    const shown = summary.knownDivergences.shown.includes(ID);
    const obs = line!.observation;
    const verdicts = obs.programs.map((p) => [p.program, p.verdict === 'rejected' ? p.errnoName : 'accepted']);
    // the percpu_rcu_ptr_ source is refused cleanly either way
    expect(verdicts[0]).toEqual(['rax_p0', 'EACCES']);
    if (shown) {
      expect([line!.result.status, line!.result.divergences]).toEqual(['divergence', [ID]]);
      expect(verdicts.slice(1)).toEqual([['rax_p2', 'EFAULT'], ['rax_p3', 'EFAULT']]);
      for (const p of obs.programs.slice(1)) expect(p.verdict === 'rejected' && p.log).toContain('invalid PTR_TO_BTF_ID register for type match');
    } else {
      expect([line!.result.status, line!.result.divergences]).toEqual(['pass', []]);
      const d = loadSpec().divergences.find((x) => x.id === ID)!;
      if (versionInRange(summary.kernel.version, d.kernels)) expect(r.stdout).toContain(`  ${ID}: fixed in this build (${summary.kernel.release})`);
    }
    // a WARN_ONCE that fired earlier in this boot prints nothing; whatever did print is charged to the program that loaded
    for (const s of obs.splats) expect(['rax_p2', 'rax_p3']).toContain(s.during);
  });
});
