import { existsSync, mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { KptrError } from '../../errors/KptrError.ts';
import { prefixScenario } from '../../generators/prefixScenario.ts';
import { scenario } from '../../generators/scenario.ts';
import { generateValues } from '../../campaign/shrink.ts';
import type { Summary } from '../../reports/summary.ts';
import { compileBpf } from '../../compile/codegen/compileBpf.ts';
import { emitBatch } from '../../compile/codegen/emit.ts';
import type { TestProgsJson } from '../../reports/testProgsJson.ts';
import { checkoutWithPlantedMismatch, readFindingRecord, readResults, readSummary, REPO_ROOT } from '../helpers/cli.ts';
import { needs } from '../helpers/needs.ts';

// Issue 10: a campaign stopped by a signal or a full disk keeps what it found, in files that parse, says so in one
// line, and leaves no process behind.

const base = mkdtempSync(join(tmpdir(), 'kptr-stops-'));
afterAll(() => rm(base, { recursive: true, force: true }));

/** Every report file that exists under `out` parses; returns the names present. */
async function reportsParse(out: string): Promise<string[]> {
  const present = (await readdir(out)).filter((f) => !f.startsWith('.'));
  if (present.includes('junit.xml')) {
    const lint = await execa('xmllint', ['--noout', join(out, 'junit.xml')], { reject: false });
    expect(lint.exitCode, `junit.xml: ${lint.stderr}`).toBe(0);
  }
  if (present.includes('test_progs.json')) JSON.parse(await readFile(join(out, 'test_progs.json'), 'utf8'));
  if (present.includes('summary.json')) JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
  // every line parses: a line the disk had no room for is cut off whole
  if (present.includes('results.jsonl')) await readResults(out);
  return present;
}

/** Processes whose command line names `out` (the harness and clang work under <out>/.work). */
async function processesUnder(out: string): Promise<string> {
  const r = await execa('pgrep', ['-af', out], { reject: false });
  return r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.includes('pgrep')).join('\n');
}

/** Cases in the long campaigns below: more than a run generated up front holds in memory (V8 ran out at 200,000). */
const LONG = 200_000;

/** Peak resident memory of a live process, in MiB (VmHWM). */
async function peakRssMib(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

/** Starts a LONG host campaign and sends `signal` once `cases` results are on disk. */
async function stopMidRun(name: string, signal: 'SIGINT' | 'SIGTERM', cases: number, extra: readonly string[] = []) {
  const out = join(base, name);
  const child = execa(process.execPath, [join(REPO_ROOT, 'bin/kptr-conform.js'), 'run', '--runner', 'host', '--runs', String(LONG), '--no-shrink', '--quiet', '--out', out, ...extra], {
    cwd: REPO_ROOT, reject: false, stdin: 'ignore',
  });
  const lines = async (): Promise<number> => (await readFile(join(out, 'results.jsonl'), 'utf8').catch(() => '')).split('\n').length - 1;
  while (child.exitCode === null && (await lines()) < cases) await new Promise((r) => setTimeout(r, 100));
  const peakMib = await peakRssMib(child.pid!);
  child.kill(signal);
  const r = await child;
  return { out, exitCode: r.exitCode ?? null, signal: r.signal ?? null, stderr: String(r.stderr), left: await processesUnder(out), peakMib };
}

describe('a host campaign stopped by a signal', () => {
  it('should start a 200,000-case campaign at once, and on SIGINT write the summary and every report for the cases so far, print the seed, and exit 130', async (ctx) => {
    await needs(ctx, 'kernel');
    const r = await stopMidRun('sigint', 'SIGINT', 50);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.exitCode, r.stderr).toBe(130);
    const seed = /seed (\d+) \(random; rerun with --seed \1\)/.exec(r.stderr);
    expect(seed, r.stderr).not.toBeNull();
    expect(await reportsParse(r.out)).toEqual(expect.arrayContaining(['summary.json', 'results.jsonl', 'junit.xml', 'test_progs.json', 'report.html']));
    const summary = await readSummary(r.out);
    expect(summary).toMatchObject({ stopped: 'SIGINT', seed: Number(seed![1]) });
    // the counts are those of the cases that finished: the ones on disk, no more, no fewer
    const results = await readResults(r.out);
    expect(summary.cases).toBe(results.length);
    expect(summary.cases).toBeGreaterThanOrEqual(50);
    expect(summary.cases).toBeLessThan(LONG);
    // generated chunk by chunk: running the first cases of a long campaign does not hold the whole campaign
    expect(r.peakMib).toBeLessThan(1024);
    const junit = await readFile(join(r.out, 'junit.xml'), 'utf8');
    expect(junit).toContain(`<testsuites name="kptr-conform" tests="${summary.cases}" `);
    const tp = JSON.parse(await readFile(join(r.out, 'test_progs.json'), 'utf8')) as TestProgsJson;
    expect(tp.results).toHaveLength(summary.cases);
    // nothing invented: a harness killed by the signal is no runner_error
    expect(results.filter((l) => l.result.status === 'error')).toEqual([]);
    expect(summary.errors).toBe(0);
    expect(r.stderr).toMatch(/stopped by SIGINT after \d+ cases/);
    expect(r.left).toBe('');
  });

  it('should do the same and exit 143 on SIGTERM sent to the tool alone, killing its harness processes', async (ctx) => {
    await needs(ctx, 'kernel');
    const r = await stopMidRun('sigterm', 'SIGTERM', 50, ['--seed', '5']);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.exitCode, r.stderr).toBe(143);
    await reportsParse(r.out);
    const summary: Summary = await readSummary(r.out);
    expect(summary).toMatchObject({ stopped: 'SIGTERM', seed: 5, errors: 0 });
    expect(summary.cases).toBe((await readResults(r.out)).length);
    expect(r.left).toBe('');
  });
});

/** A tmpfs of `size` at a fresh directory, unmounted (and removed) by the returned function. */
async function smallDisk(name: string, size: string): Promise<{ dir: string; unmount: () => Promise<void> }> {
  const dir = join(base, name);
  await mkdir(dir, { recursive: true });
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return { dir, unmount: async () => { await execa('umount', [dir], { reject: false }); } };
}

describe('a host campaign on a full disk', () => {
  // 1 MiB fills while the harness writes its results (the work directory is under --out); 3 MiB while the reports grow
  for (const size of ['1m', '3m']) {
    it(`should stop with one KPTR_DISK_FULL line and exit 2, inventing no finding and leaving valid files (${size})`, async (ctx) => {
      await needs(ctx, 'kernel');
      const disk = await smallDisk(`full-${size}`, size);
      try {
        const out = join(disk.dir, 'out');
        const r = await execa(process.execPath, [join(REPO_ROOT, 'bin/kptr-conform.js'), 'run', '--runner', 'host', '--runs', '3000', '--seed', '1', '--no-shrink', '--quiet', '--out', out], {
          cwd: REPO_ROOT, reject: false, stdin: 'ignore',
        });
        expect(r.exitCode, r.stderr).toBe(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines, r.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(/^kptr-conform: KPTR_DISK_FULL: no space left on \/.* — free space or pass --out elsewhere$/);
        expect(existsSync(join(out, 'findings')) ? await readdir(join(out, 'findings')) : []).toEqual([]);
        await reportsParse(out);
        if (existsSync(join(out, 'results.jsonl'))) {
          expect((await readResults(out)).filter((l) => l.result.status === 'error' || l.result.status === 'fail')).toEqual([]);
        }
        expect(await processesUnder(out)).toBe('');
      } finally {
        await disk.unmount();
      }
    });
  }
});

describe('a host campaign stopped while it shrinks', () => {
  it('should write a finding for every bug, those not fully shrunk saying so, and exit 130', async (ctx) => {
    await needs(ctx, 'kernel');
    // with a planted mismatch (a rule expecting a line no kernel prints), generated breaks of that rule are findings,
    // and the first case of each bug is shrunk with clang; the corpus is empty, so that case is a generated one
    const root = await checkoutWithPlantedMismatch(join(base, 'checkout'));
    const emptyCorpus = join(base, 'empty-corpus');
    await mkdir(emptyCorpus);
    const corpus = 0;
    const out = join(base, 'shrinking');
    const runs = 300;
    const child = execa(process.execPath, [join(root, 'bin/kptr-conform.js'), 'run', '--runner', 'host', '--runs', String(runs), '--seed', '3', '--mode', 'break', '--corpus', emptyCorpus, '--quiet', '--out', out], {
      cwd: root, reject: false, stdin: 'ignore',
    });
    // every case has run once results.jsonl holds them all: what follows is shrinking
    const lines = async (): Promise<number> => (await readFile(join(out, 'results.jsonl'), 'utf8').catch(() => '')).split('\n').length - 1;
    while (child.exitCode === null && (await lines()) < corpus + runs) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(130);
    const summary = await readSummary(out);
    expect(summary.stopped).toBe('SIGINT');
    expect(summary.cases).toBe(corpus + runs);
    expect(summary.findings).toHaveLength(Object.keys(summary.bugs).length);
    expect(Object.values(summary.bugs).reduce((n, b) => n + b.cases.length, 0)).toBe(summary.failed + summary.errors);
    const cut = summary.findings.filter((f) => f.unshrunkBecause !== null);
    expect(cut.length, 'some generated finding should still have been shrinking').toBeGreaterThan(0);
    for (const f of cut) {
      expect(f.unshrunkBecause).toBe('interrupted by SIGINT');
      expect(await readFile(join(out, f.dir, 'README.md'), 'utf8')).toContain('**Not fully shrunk** (interrupted by SIGINT)');
      // what is written is a real failing case: its mismatch is recorded
      expect((await readFindingRecord(out, f)).result.status).toBe('fail');
    }
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('not fully shrunk: interrupted by SIGINT');
    expect(await processesUnder(out)).toBe('');
  });
});

describe('clang on a full disk', () => {
  it('should be KPTR_DISK_FULL naming the object, not a compile failure of the C', async (ctx) => {
    await needs(ctx, 'kernel');
    await needs(ctx, 'clang');
    // 200 KiB: the ~100 KB source of 60 scenarios fits, clang's object does not
    const disk = await smallDisk('clang-full', '200k');
    try {
      const arb = scenario({ mode: 'mixed', progTypes: ['tc', 'syscall'], nrCpus: 2 });
      // one object has one license: the GPL ones of the first cases
      const batch = [...generateValues(arb, 1, 90)].map((v, i) => prefixScenario(v.value_, `s1_${i}`))
        .filter((s) => s.programs.every((p) => p.license === 'GPL')).slice(0, 60);
      const error = await compileBpf(emitBatch(batch).source, disk.dir, 'b').then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(KptrError);
      expect((error as KptrError).oneLine()).toBe(`KPTR_DISK_FULL: no space left on ${join(disk.dir, 'b.bpf.o')} — free space or pass --out elsewhere`);
    } finally {
      await disk.unmount();
    }
  });
});
