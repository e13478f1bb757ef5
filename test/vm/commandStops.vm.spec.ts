import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.ts';
import { needsKernelImage } from '../helpers/needs.ts';

// Issue 10: `selftests` and `replay` stop on SIGINT / SIGTERM as a campaign does — the summary and reports of what
// finished are written, the guest is killed, one line says so, and the exit code says "interrupted". A vm run is
// the case that matters: a guest boot takes seconds, so the signal lands while QEMU runs.

const REGRESSION = fileURLToPath(new URL('../../specs/regressions/per_cpu_ptr_oob_unchecked.yaml', import.meta.url));

/** Processes whose command line names `dir`, this test's own pgrep excluded. */
async function processesUnder(dir: string): Promise<string[]> {
  const r = await execa('pgrep', ['-af', dir], { reject: false });
  return r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.includes('pgrep'));
}

/** Runs the CLI and sends `signal` once a QEMU guest of this run is up. */
async function stopWhileGuestRuns(args: readonly string[], signal: 'SIGINT' | 'SIGTERM') {
  const out = await mkdtemp(join(tmpdir(), 'kptr-cmdstop-'));
  const child = execa(process.execPath, [join(REPO_ROOT, 'bin/kptr-conform.js'), ...args, '--out', out, '--quiet'], {
    cwd: REPO_ROOT, reject: false, stdin: 'ignore',
  });
  let sawGuest = false;
  while (child.exitCode === null && !sawGuest) {
    sawGuest = (await processesUnder(out)).some((l) => l.includes('qemu-system'));
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill(signal);
  const r = await child;
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as { stopped?: string; kernels?: { stopped?: string }[] };
  return { out, sawGuest, exitCode: r.exitCode, stderr: String(r.stderr), summary, left: await processesUnder(out) };
}

/** Summary.stopped of a one-kernel run, or of an empty multi-kernel body when the stop came before the session opened. */
const stoppedOf = (s: { stopped?: string; kernels?: { stopped?: string }[] }): string | undefined => s.stopped ?? s.kernels?.[0]?.stopped;

describe('selftests and replay stopped by a signal', () => {
  it('should write the summary of selftests on SIGINT while a guest runs, kill the guest and exit 130', async (ctx) => {
    await needsKernelImage(ctx, '6.12');
    const r = await stopWhileGuestRuns(['selftests', '--runner', 'vm', '--kernel', '6.12'], 'SIGINT');
    expect(r.sawGuest, r.stderr).toBe(true);
    expect(r.exitCode, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/stopped by SIGINT after \d+ cases; wrote /);
    expect(stoppedOf(r.summary), JSON.stringify(r.summary)).toBe('SIGINT');
    expect(r.left).toEqual([]);
  });

  it('should do the same for replay on SIGTERM and exit 143', async (ctx) => {
    await needsKernelImage(ctx, '6.12');
    const r = await stopWhileGuestRuns(['replay', REGRESSION, '--runner', 'vm', '--kernel', '6.12'], 'SIGTERM');
    expect(r.sawGuest, r.stderr).toBe(true);
    expect(r.exitCode, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/stopped by SIGTERM after \d+ cases; wrote /);
    expect(stoppedOf(r.summary), JSON.stringify(r.summary)).toBe('SIGTERM');
    expect(r.left).toEqual([]);
  });
});
