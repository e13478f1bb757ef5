import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { Summary } from '../../reports/summary.ts';
import type { TestProgsJson } from '../../reports/testProgsJson.ts';
import { checkoutWithPlantedMismatch, kptrConform, once, readResults, readSummary, type ResultLine } from '../helpers/cli.ts';
import { needs } from '../helpers/needs.ts';

// Issue 11, items 4 and 5: a campaign stopped and resumed, and one split over shards and merged, report what the
// same campaign run in one go reports. Break mode on the planted checkout: every case is verified only (deterministic),
// and the planted rule gives real findings; clang's objects, so no finding needs a run on another object.

const base = mkdtempSync(join(tmpdir(), 'kptr-scale-'));
afterAll(() => rm(base, { recursive: true, force: true }));
const planted = once(() => checkoutWithPlantedMismatch(join(base, 'checkout')));

const campaignArgs = (runs: number, seed: number, segment = 100): string[] =>
  ['run', '--runner', 'host', '--runs', String(runs), '--seed', String(seed), '--mode', 'break', '--codegen', 'clang', '--no-shrink', '--quiet', '--segment', String(segment)];

/**
 * What must be equal between a campaign and its stopped-and-resumed or sharded-and-merged twin. A case as predicted
 * may be a pass in one process and a known value divergence in the other: whether freed per-CPU memory comes back
 * uncleared (percpu_obj_new_uncleared) depends on the kernel allocator's history, which two processes do not share.
 */
function counts(s: Summary) {
  const { cases, failed, skipped, errors, ruleCoverage, statePairCoverage, seed, stopped } = s;
  return {
    cases, failed, skipped, errors, asPredicted: s.passed + s.divergent, unexplained: s.mismatches.unexplained, ruleCoverage, statePairCoverage, seed, stopped,
    findings: s.findings.map((f) => f.id).sort(),
  };
}

/** The counts the JUnit and test_progs files carry, and that junit.xml is valid XML. */
async function fileCounts(out: string) {
  const lint = await execa('xmllint', ['--noout', join(out, 'junit.xml')], { reject: false });
  expect(lint.exitCode, lint.stderr).toBe(0);
  const junit = /<testsuites name="kptr-conform" (tests="\d+" failures="\d+" errors="\d+")/.exec(await readFile(join(out, 'junit.xml'), 'utf8'))?.[1];
  const tp = JSON.parse(await readFile(join(out, 'test_progs.json'), 'utf8')) as TestProgsJson;
  return { junit, testProgs: { success: tp.success, failed: tp.failed, skipped: tp.skipped, results: tp.results.length } };
}

async function processesUnder(out: string): Promise<string> {
  const r = await execa('pgrep', ['-af', out], { reject: false });
  return r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.includes('pgrep')).join('\n');
}

/** Starts a campaign and sends SIGINT (`times` of them, the second right after the first) once `cases` results are on disk. */
async function interrupt(root: string, args: readonly string[], out: string, cases: number, times: 1 | 2) {
  const child = execa(process.execPath, [join(root, 'bin/kptr-conform.js'), ...args, '--out', out], { cwd: root, reject: false, stdin: 'ignore' });
  const lines = async (): Promise<number> => (await readFile(join(out, 'results.jsonl'), 'utf8').catch(() => '')).split('\n').length - 1;
  while (child.exitCode === null && (await lines()) < cases) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGINT');
  if (times === 2) {
    await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
  }
  const r = await child;
  return { exitCode: r.exitCode, stderr: String(r.stderr), left: await processesUnder(out) };
}

/** The campaign run in one go (exit 1: the planted mismatch), which its resumed or sharded twin must equal. */
async function inOneGo(root: string, args: readonly string[], name: string): Promise<string> {
  const out = join(base, name);
  const r = await kptrConform([...args, '--out', out], root);
  expect(r.exitCode, r.stderr).toBe(1);
  return out;
}

/** The summary's timeline (report.html's plots over time) goes forward and ends on the summary's counts. */
function expectTimelineOf(s: Summary): void {
  const t = s.timeline;
  expect(t.length).toBeGreaterThan(0);
  expect(t.every((x, i) => i === 0 || (x.ms >= t[i - 1]!.ms && x.cases > t[i - 1]!.cases && x.failed >= t[i - 1]!.failed))).toBe(true);
  expect(t.at(-1)).toMatchObject({ cases: s.cases, failed: s.failed + s.errors, bugs: Object.keys(s.bugs).length, divergent: s.divergent });
}

/** `out` reports what `reference` reports: the same cases, each once, counts, findings, JUnit and test_progs counts. */
async function expectSameRun(out: string, reference: string): Promise<void> {
  const ids = (await readResults(out)).map((l) => l.scenarioId);
  expect(ids.length).toBe(new Set(ids).size);
  expect(ids.sort()).toEqual((await readResults(reference)).map((l) => l.scenarioId).sort());
  expect(counts(await readSummary(out))).toEqual(counts(await readSummary(reference)));
  expectTimelineOf(await readSummary(out));
  expect(await fileCounts(out)).toEqual(await fileCounts(reference));
  expect((await readdir(join(out, 'findings'))).sort()).toEqual((await readdir(join(reference, 'findings'))).sort());
}

describe('a host campaign stopped by Ctrl-C and resumed', () => {
  it('should continue on the same seed stream from its checkpoint: each case once, the counts of the run in one go', async (ctx) => {
    await needs(ctx, 'kernel');
    const root = await planted();
    const args = campaignArgs(500, 31);
    const whole = await inOneGo(root, args, 'whole');

    const out = join(base, 'resumed');
    const stopped = await interrupt(root, args, out, 250, 1);
    expect(stopped.exitCode, stopped.stderr).toBe(130);
    expect(stopped.stderr).toContain(`run --resume ${out} to continue`);
    expect(stopped.left).toBe('');
    const before = await readSummary(out);
    expect(before.stopped).toBe('SIGINT');
    expect(before.cases).toBeLessThan(501);

    // a resumed campaign keeps its options
    const refused = await kptrConform(['run', '--resume', out, '--seed', '32'], root);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^kptr-conform: KPTR_USAGE: --resume .*--seed 32 differs from the interrupted campaign's \(31\)/)]);

    const resumed = await kptrConform(['run', '--resume', out], root);
    expect(resumed.exitCode, resumed.stderr).toBe(1);
    await expectSameRun(out, whole);
    // the timeline goes on from the interrupted process's: its first samples are that process's
    expect(before.timeline).toContainEqual((await readSummary(out)).timeline[0]);
    // nothing is left to resume
    const again = await kptrConform(['run', '--resume', out], root);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/that campaign is complete/);
  }, 1_200_000);

  it('should stop at once on a second Ctrl-C, exit 130 and leave no harness or clang process', async (ctx) => {
    await needs(ctx, 'kernel');
    const root = await planted();
    const r = await interrupt(root, ['run', '--runner', 'host', '--runs', '200000', '--seed', '3', '--no-shrink', '--quiet'], join(base, 'twice'), 50, 2);
    expect(r.exitCode, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/SIGINT again: stopping at once/);
    expect(r.left).toBe('');
  });
});

describe('a host campaign with a budget', () => {
  it('should stop generating at the segment where --until-bugs is reached, then write its findings and exit 1', async (ctx) => {
    await needs(ctx, 'kernel');
    const root = await planted();
    const out = join(base, 'until-bugs');
    // no corpus: the bug must come from a generated case (the planted corpus entry would be the first bug at once)
    const empty = join(base, 'until-bugs-corpus');
    await mkdir(empty, { recursive: true });
    const r = await kptrConform([...campaignArgs(100_000, 51, 50), '--corpus', empty, '--until-bugs', '1', '--out', out], root);
    expect(r.exitCode, r.stderr).toBe(1);
    const s = await readSummary(out);
    // bugs are bug signatures (reports/bugSignature.ts): one finding each (--shrinks-per-bug 1)
    expect(Object.keys(s.bugs).length).toBeGreaterThanOrEqual(1);
    expect(s.findings).toHaveLength(Object.keys(s.bugs).length);
    expect(s.stopped).toBeNull();
    expect(s.cases).toBeLessThan(100_000);
    // whole segments of 50 generated cases, the last of which brought the first bug
    const failing = (ls: readonly ResultLine[]): number => ls.filter((l) => l.result.status === 'fail' || l.result.status === 'error').length;
    const generated = (await readResults(out)).filter((l) => l.scenarioId.startsWith('s51_'));
    expect(generated.length % 50).toBe(0);
    expect(failing(generated.slice(0, -50))).toBe(0);
    expect(failing(generated.slice(-50))).toBeGreaterThan(0);
  });
});

describe('a host campaign split over 4 shards and merged', () => {
  it('should report what the unsharded campaign reports: the same cases, counts, findings, JUnit and test_progs counts', async (ctx) => {
    await needs(ctx, 'kernel');
    const root = await planted();
    const args = campaignArgs(300, 41);
    const unsharded = await inOneGo(root, args, 'unsharded');
    const shards = [1, 2, 3, 4].map((k) => join(base, `shard-${k}`));
    for (const [i, out] of shards.entries()) {
      const r = await kptrConform([...args, '--shard', `${i + 1}/4`, '--out', out], root);
      expect([0, 1], r.stderr).toContain(r.exitCode);
    }
    // every shard ran a part of the stream
    for (const out of shards) expect((await readSummary(out)).cases).toBeGreaterThan(60);
    const merged = join(base, 'merged');
    const m = await kptrConform(['merge', ...shards, '--out', merged], root);
    expect(m.exitCode, m.stderr).toBe(1);
    await expectSameRun(merged, unsharded);
    const html = await readFile(join(merged, 'report.html'), 'utf8');
    for (const f of (await readSummary(merged)).findings) expect(html).toContain(`id="${f.id}"`);
    // a shard merged twice would count its cases twice
    const twice = await kptrConform(['merge', shards[0]!, shards[0]!, '--out', join(base, 'twice-merged')], root);
    expect(twice.exitCode).toBe(2);
    expect(twice.stderr).toMatch(/is in two of the runs/);
  }, 1_200_000);
});
