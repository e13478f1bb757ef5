import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RUN_OUTPUTS } from '../../cli/preflight.ts';
import { kptrConform, once, readResults, readSummary } from '../helpers/cli.ts';
import { needs } from '../helpers/needs.ts';

// Issue 10's rows that need a real run: the seed a run reports, an --out holding an earlier run, a read-only file
// system. One small valid campaign on the host kernel, then runs into the same directory.

const base = mkdtempSync(join(tmpdir(), 'kptr-cli-options-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const SEED = '4294967295';
const campaignArgs = (out: string, ...more: string[]): string[] => ['run', '--runner', 'host', '--runs', '3', '--seed', SEED, '--mode', 'valid', '--quiet', '--out', out, ...more];
const out = join(base, 'out');
const first = once(async () => {
  const r = await kptrConform(campaignArgs(out));
  expect(r.exitCode, r.stdout + r.stderr).not.toBe(2);
  return r;
});

describe('kptr-conform run on the host', () => {
  it('should run the largest 32-bit seed as given and record it in summary.json and the case ids', async (ctx) => {
    await needs(ctx, 'kernel');
    await first();
    expect((await readSummary(out)).seed).toBe(Number(SEED));
    const generated = (await readResults(out)).filter((l) => l.scenarioId.startsWith('s'));
    expect(generated.map((l) => l.scenarioId)).toEqual([0, 1, 2].map((i) => `s${SEED}_${i}`));
  });

  it('should write nothing into --out but the entries preflight knows as a run\'s (what --force may remove)', async (ctx) => {
    await needs(ctx, 'kernel');
    await first();
    for (const entry of readdirSync(out)) expect(RUN_OUTPUTS).toContain(entry);
  });

  it('should refuse the same --out again, leaving the earlier run as it was', async (ctx) => {
    await needs(ctx, 'kernel');
    await first();
    const before = readFileSync(join(out, 'summary.json'), 'utf8');
    const r = await kptrConform(campaignArgs(out));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^kptr-conform: KPTR_OUTPUT_IN_USE: .* holds an earlier run \(summary\.json.* add --force to replace that run.s files$/);
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe(before);
  });

  it('should with --force replace the earlier run: no stale finding beside the new summary, other files kept', async (ctx) => {
    await needs(ctx, 'kernel');
    await first();
    const forced = join(base, 'forced');
    mkdirSync(join(forced, 'findings', 'stale-finding'), { recursive: true });
    writeFileSync(join(forced, 'summary.json'), '{"failed":1}');
    writeFileSync(join(forced, 'notes.txt'), 'mine');
    const r = await kptrConform(campaignArgs(forced, '--force'));
    expect(r.exitCode, r.stdout + r.stderr).not.toBe(2);
    const summary = await readSummary(forced);
    const onDisk = readdirSync(forced).includes('findings') ? readdirSync(join(forced, 'findings')).sort() : [];
    expect(onDisk).toEqual(summary.findings.map((f) => f.id).sort());
    expect(readFileSync(join(forced, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('should refuse an --out on a read-only file system with one line naming EROFS', async (ctx) => {
    await needs(ctx, 'kernel');
    const ro = join(base, 'ro');
    mkdirSync(ro);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]);
    try {
      for (const dir of [ro, join(ro, 'sub')]) {
        const r = await kptrConform(campaignArgs(dir));
        expect(r.exitCode).toBe(2);
        expect(r.stderr).toMatch(/^kptr-conform: KPTR_OUTPUT_UNUSABLE: --out .*\(EROFS: read-only file system\)/);
        expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      }
    } finally {
      execFileSync('umount', [ro]);
    }
  });
});
