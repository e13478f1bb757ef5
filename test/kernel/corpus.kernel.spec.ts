import { mkdirSync, mkdtempSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SIGNATURES_FILE } from '../../cli/corpusSignatures.ts';
import { loadScenarioFile } from '../../specs/load.ts';
import { checkoutWithPlantedMismatch, kptrConform, once, PLANTED_RULE, readResults, readSummary } from '../helpers/cli.ts';
import { needs } from '../helpers/needs.ts';

// The regression corpus as a property-testing example database: `run --save-findings --corpus DIR` keeps each new
// finding, and the next `run --corpus DIR` replays those before any new case. Real findings come from a checkout
// whose spec expects a line no kernel prints for PLANTED_RULE, so every generated break of that rule is a finding.

const base = mkdtempSync(join(tmpdir(), 'kptr-corpus-'));
afterAll(() => rm(base, { recursive: true, force: true }));

// a seed whose first 80 break cases (host: tc, syscall) hold several breaks of PLANTED_RULE (seed 3 held none once
// generation began aiming at state pairs): the emulator with --prog-types tc,syscall counts them in seconds
const SEED = '8';
const CAMPAIGN = ['--runner', 'host', '--mode', 'break', '--seed', SEED, '--quiet'];

/**
 * The first run, into an empty corpus with --save-findings. Break mode reaches the rule often enough that 80 cases
 * hold a few breaks of it; few shrink steps keep the run quick.
 */
const savingRun = once(async () => {
  const root = await checkoutWithPlantedMismatch(join(base, 'checkout'));
  const corpus = join(base, 'corpus');
  mkdirSync(corpus);
  const out = join(base, 'first');
  const r = await kptrConform(['run', ...CAMPAIGN, '--runs', '80', '--max-shrinks', '10', '--corpus', corpus, '--save-findings', '--out', out], root);
  expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(1);
  return { root, corpus, out };
});

describe('the regression corpus (--corpus, --save-findings)', () => {
  it('should add each new finding\'s shrunk scenario to the corpus with --save-findings', async (ctx) => {
    await needs(ctx, 'kernel');
    const { corpus, out } = await savingRun();
    const { findings } = await readSummary(out);
    expect(findings.length).toBeGreaterThan(0);
    // each is a break of the planted rule, refused by the kernel in its own words rather than the planted line
    for (const f of findings) expect([f.kinds, loadScenarioFile(join(out, f.dir, 'scenario.yaml')).intent]).toEqual([['message'], { kind: 'break', rule: PLANTED_RULE }]);
    expect((await readdir(corpus)).sort()).toEqual([SIGNATURES_FILE, ...findings.map((f) => `${f.id}.yaml`)].sort());
    for (const f of findings) {
      expect(await readFile(join(corpus, `${f.id}.yaml`), 'utf8')).toBe(await readFile(join(out, f.dir, 'scenario.yaml'), 'utf8'));
    }
  });

  it('should replay the corpus before new cases in the next run and reproduce every saved finding', async (ctx) => {
    await needs(ctx, 'kernel');
    const { root, corpus, out } = await savingRun();
    const saved = await readSummary(out);
    const again = join(base, 'second');
    const r = await kptrConform(['run', ...CAMPAIGN, '--runs', '5', '--no-shrink', '--corpus', corpus, '--out', again], root);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(1);
    const lines = await readResults(again);
    const replayed = lines.slice(0, saved.findings.length);
    // corpus files are replayed in name order, and only then come the generated cases of this seed
    const files = (await readdir(corpus)).filter((f) => f.endsWith('.yaml')).sort();
    expect(replayed.map((l) => l.scenarioId)).toEqual(files.map((f) => loadScenarioFile(join(corpus, f)).id));
    expect(lines.slice(saved.findings.length).every((l) => l.scenarioId.startsWith(`s${SEED}_`))).toBe(true);
    expect(lines).toHaveLength(saved.findings.length + 5);
    // each saved finding fails again the same way, and is reported under the same id
    for (const f of saved.findings) {
      const line = replayed.find((l) => l.scenarioId === f.scenarioId)!;
      expect(line.result.status).toBe('fail');
      expect([...new Set(line.result.mismatches.map((m) => m.kind))]).toEqual(f.kinds);
    }
    expect((await readSummary(again)).findings.map((f) => f.id)).toEqual(expect.arrayContaining(saved.findings.map((f) => f.id)));
  });
});
