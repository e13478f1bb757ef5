import { chmod, cp, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProfile, profileForRelease } from '../../emulator/verifier/profile.ts';
import { DEFAULT_EMULATOR_KERNEL } from '../../runners/emulator/index.ts';
import { copyCheckout, once, readResults, readSummary, REPO_ROOT } from '../helpers/cli.ts';
import { needs } from '../helpers/needs.ts';

// Issue 13's promise: a fresh unprivileged user runs the README's campaign command and gets a real report. Root drops
// to nobody (uid/gid 65534, no groups, no capabilities) and runs the CLI as the package's bin, with no --runner.

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
const RUNS = 200;

const base = await mkdtemp(join(tmpdir(), 'kptr-unprivileged-'));
afterAll(() => rm(base, { recursive: true, force: true }));

/** Whether uid 65534 can read `path` (a checkout under /root, say, it cannot). */
async function nobodyReads(path: string): Promise<boolean> {
  return (await execa('setpriv', [...NOBODY, 'test', '-r', path], { reject: false })).exitCode === 0;
}

/**
 * A checkout nobody can read: a copy of this one in a world-writable directory, node_modules linked when nobody can
 * read it where it is, copied otherwise.
 */
async function nobodysCheckout(): Promise<string> {
  await chmod(base, 0o777);
  const root = join(base, 'checkout');
  await copyCheckout(root);
  const modules = realpathSync(join(REPO_ROOT, 'node_modules'));
  if (await nobodyReads(join(modules, 'tsx', 'package.json'))) await symlink(modules, join(root, 'node_modules'));
  else await cp(modules, join(root, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  return root;
}

/** `node bin/kptr-conform.js run --runs 200 --seed 5` as nobody, in a fresh environment (no HOME of its own). */
const campaign = once(async () => {
  const root = await nobodysCheckout();
  const out = join(base, 'out');
  const args = [...NOBODY, process.execPath, join(root, 'bin/kptr-conform.js'), 'run', '--runs', String(RUNS), '--seed', '5', '--quiet', '--out', out];
  const r = await execa('setpriv', args, {
    cwd: base, reject: false, stdin: 'ignore', extendEnv: false, env: { PATH: process.env.PATH, HOME: '/nonexistent', USER: 'nobody' },
  });
  return { root, out, exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
});

/** The profile a plain run should pick: the one modelling this kernel, else the default. */
const expectedProfile = (): string => profileForRelease(release()) ?? DEFAULT_EMULATOR_KERNEL;

describe('an unprivileged user runs the README campaign command', () => {
  it('should pick the emulator with the profile of this kernel, and say why on stderr', async (ctx) => {
    // root is needed to drop to nobody; the kernel project runs as root
    await needs(ctx, 'kernel');
    const run = await campaign();
    expect(run.stderr).toMatch(new RegExp(`^kptr-conform: runner emulator \\(profile ${expectedProfile().replace(/\./g, '\\.')}, .*\\): the host runner is unavailable: .*CAP_BPF`, 'm'));
    // the summary gets its counts; exit 0 is every case as predicted, 1 a finding (what the emulator says, either way)
    const summary = await readSummary(run.out).catch((e: unknown) => {
      throw new Error(`no summary.json; the CLI said (exit ${run.exitCode}):\n${run.stdout}\n${run.stderr}`, { cause: e });
    });
    expect(run.exitCode).toBe(summary.failed + summary.errors > 0 ? 1 : 0);
    expect(summary.runner).toBe('emulator');
    expect(summary.runnerChosen).toMatch(/^runner emulator .*CAP_BPF/);
    expect(summary.kernel.release).toBe(`${loadProfile(expectedProfile()).release} (emulated)`);
  });

  it('should report every case, corpus and generated, with a verdict in results.jsonl and report.html', async (ctx) => {
    await needs(ctx, 'kernel');
    const run = await campaign();
    const summary = await readSummary(run.out);
    const corpus = (await readdir(join(run.root, 'specs/regressions'))).filter((f) => f.endsWith('.yaml'));
    expect(summary).toMatchObject({ seed: 5, cases: corpus.length + RUNS, errors: 0 });
    expect(summary.passed + summary.failed + summary.skipped + summary.divergent).toBe(summary.cases);
    // the emulator runs every program type, so nothing is skipped for want of the kernel
    expect(summary.skipped).toBe(0);
    const lines = await readResults(run.out);
    expect(lines).toHaveLength(summary.cases);
    for (const l of lines) {
      expect(l.runner).toBe('emulator');
      expect(['pass', 'fail', 'divergence']).toContain(l.result.status);
      expect(l.observation.programs.length).toBeGreaterThan(0);
      for (const p of l.observation.programs) expect(['accepted', 'rejected']).toContain(p.verdict);
    }
    expect((await stat(join(run.out, 'report.html'))).size).toBeGreaterThan(1000);
  });
});
