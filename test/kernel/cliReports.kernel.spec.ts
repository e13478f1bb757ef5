import { existsSync, mkdtempSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { Summary } from '../../reports/summary.ts';
import type { TestProgsJson } from '../../reports/testProgsJson.ts';
import { bpfClangArgs, CLANG } from '../../compile/codegen/compileBpf.ts';
import { parseHarnessOutput, writePlan } from '../../runners/harnessProtocol.ts';
import { DEFAULT_HARNESS_PATH } from '../../runners/harnessProtocol.ts';
import { loadScenarioFile, loadSpec } from '../../specs/load.ts';
import {
  campaignWithFinding, kptrConform, once, readFindingRecord, readResults, readSummary, REPO_ROOT,
} from '../helpers/cli.ts';
import { needs } from '../helpers/needs.ts';

/** A bug some kernels have, whose regression corpus entry (pcpu_oob) is a divergence there and a pass elsewhere. */
const HOST_DIVERGENCE = 'per_cpu_ptr_result_not_maybe_null';

// The end-to-end contract of issue 5: one real campaign on the host kernel with a real finding, read back through
// the files a kernel developer and a CI system get.

const base = mkdtempSync(join(tmpdir(), 'kptr-cli-reports-'));
afterAll(() => rm(base, { recursive: true, force: true }));

const campaign = once(() => campaignWithFinding(join(base, 'finding')));

/** The campaign's summary, checked to hold the finding every test below reads. */
async function summaryWithFindings() {
  const run = await campaign();
  const summary = await readSummary(run.out).catch((e: unknown) => {
    throw new Error(`no summary.json; the CLI said:\n${run.stdout}\n${run.stderr}`, { cause: e });
  });
  expect(summary.findings.length, 'the campaign should have produced a finding').toBeGreaterThan(0);
  return { ...run, summary };
}

/** Every failing case's id, as the bugs list them. */
const bugCaseIds = (summary: Summary): string[] => Object.values(summary.bugs).flatMap((b) => b.cases.map((c) => c.scenarioId)).sort();

const XSD = fileURLToPath(new URL('../unit/reports/fixtures/junit-jenkins.xsd', import.meta.url));

describe('a campaign with a finding (run --out DIR)', () => {
  it('should count every case (corpus and generated) in summary.json and list each finding', async (ctx) => {
    await needs(ctx, 'kernel');
    const { root, runs } = await campaign();
    const { summary } = await summaryWithFindings();
    const corpus = (await readdir(join(root, 'specs/regressions'))).filter((f) => f.endsWith('.yaml'));
    expect(summary).toMatchObject({ runner: 'host', seed: 7, cases: corpus.length + runs, errors: 0 });
    expect(summary.kernel.release).toBe(release());
    expect(summary.passed + summary.failed + summary.skipped + summary.divergent + summary.errors).toBe(summary.cases);
    // every failing case is a case of one bug, each bug has one finding, and the mismatches are unexplained
    const bugs = Object.values(summary.bugs);
    expect(bugs.reduce((n, b) => n + b.cases.length, 0)).toBe(summary.failed + summary.errors);
    expect(summary.findings.map((f) => f.id).sort()).toEqual(bugs.map((b) => b.cases[0]!.finding).sort());
    expect(summary.mismatches.unexplained).toBeGreaterThanOrEqual(summary.failed);
    expect(summary.ruleCoverage.total).toBe(loadSpec(join(root, 'specs')).rules.length);
    expect(Object.keys(summary.ruleCoverage.byRule)).toHaveLength(summary.ruleCoverage.total);
  });

  it('should write one results.jsonl line per case with prediction, observation, verdict and durations', async (ctx) => {
    await needs(ctx, 'kernel');
    const { out, summary } = await summaryWithFindings();
    const lines = await readResults(out);
    expect(lines).toHaveLength(summary.cases);
    for (const l of lines) {
      expect(l.result.scenarioId).toBe(l.scenarioId);
      expect(l.observation.scenarioId).toBe(l.scenarioId);
      expect(l.runner).toBe('host');
      expect(l.kernel.release).toBe(summary.kernel.release);
      expect(l.prediction?.programs.length).toBe(l.observation.programs.length);
      expect(l.durations.loadNs).toBeGreaterThan(0);
    }
    const failing = lines.filter((l) => l.result.status === 'fail').map((l) => l.scenarioId);
    expect(failing.sort()).toEqual(bugCaseIds(summary));
    // valid cases ran on the host, so the run times are the kernel's own measurements
    expect(lines.some((l) => l.observation.runs.length > 0 && l.durations.runNs > 0)).toBe(true);
  });

  it('should write junit.xml that validates against the Jenkins/Surefire schema, each finding a <failure>', async (ctx) => {
    await needs(ctx, 'kernel');
    const { out, summary } = await summaryWithFindings();
    const file = join(out, 'junit.xml');
    const check = await execa('xmllint', ['--noout', '--schema', XSD, file], { reject: false });
    expect(check.stderr).toContain('validates');
    expect(check.exitCode).toBe(0);
    const testcases = (await readFile(file, 'utf8')).split('<testcase ').slice(1);
    expect(testcases).toHaveLength(summary.cases);
    const failed = testcases.filter((t) => t.split('</testcase>')[0]!.includes('<failure ')).map((t) => / name="([^"]*)"/.exec(t)?.[1]);
    expect(failed.sort()).toEqual(bugCaseIds(summary));
  });

  it('should write test_progs.json in the `test_progs -J` shape, one test per case', async (ctx) => {
    await needs(ctx, 'kernel');
    const { out, summary } = await summaryWithFindings();
    const tp = JSON.parse(await readFile(join(out, 'test_progs.json'), 'utf8')) as TestProgsJson;
    expect(Object.keys(tp).sort()).toEqual(['bugs', 'failed', 'results', 'skipped', 'success', 'success_subtest']);
    expect(tp).toMatchObject({ success: summary.passed + summary.divergent, skipped: summary.skipped, failed: summary.failed, bugs: Object.keys(summary.bugs).length });
    expect(tp.results).toHaveLength(summary.cases);
    expect(tp.results.filter((t) => t.failed).map((t) => t.name).sort()).toEqual(bugCaseIds(summary));
    for (const t of tp.results.filter((x) => x.failed)) expect(t.subtests.some((s) => s.failed && s.message !== '')).toBe(true);
  });

  it('should write report.html', async (ctx) => {
    // its content is checked in a real browser by test/browser/report.browser.spec.ts
    await needs(ctx, 'kernel');
    const { out } = await summaryWithFindings();
    expect(await readFile(join(out, 'report.html'), 'utf8')).toMatch(/^<!DOCTYPE html>/);
  });

  it('should write findings/<id>/ with the scenario, reproducer, header, verifier log and a README with the replay command', async (ctx) => {
    await needs(ctx, 'kernel');
    const { out, summary } = await summaryWithFindings();
    for (const f of summary.findings) {
      const dir = join(out, f.dir);
      expect(loadScenarioFile(join(dir, 'scenario.yaml')).id).toBe(f.scenarioId);
      expect(await readFile(join(dir, 'kptr.h'), 'utf8')).toBe(await readFile(join(REPO_ROOT, 'compile/codegen/kptr.h'), 'utf8'));
      expect(await readFile(join(dir, 'repro.bpf.c'), 'utf8')).toMatch(/^#include "kptr.h"$/m);
      expect((await readFile(join(dir, 'verifier.log'), 'utf8')).trim()).not.toBe('');
      expect(await readFile(join(dir, 'README.md'), 'utf8')).toContain(f.replay);
      // a userspace checker is written only for runtime (value or splat) findings
      const runtime = f.kinds.some((k) => k === 'value' || k === 'splat');
      expect(existsSync(join(dir, 'repro_check.c'))).toBe(runtime);
    }
  });

  it('should reproduce each finding with the replay command its README gives', async (ctx) => {
    await needs(ctx, 'kernel');
    const { root, out, summary } = await summaryWithFindings();
    for (const f of summary.findings) {
      const [npx, bin, ...args] = f.replay.split(' ');
      expect(`${npx} ${bin}`).toBe('npx kptr-conform');
      const again = join(out, 'replays', f.id);
      const r = await kptrConform([...args, '--quiet', '--out', again], root);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      const [line] = await readResults(again);
      expect([...new Set(line!.result.mismatches.map((m) => m.kind))]).toEqual(f.kinds);
    }
  });

  it('should give each finding a repro.bpf.c that clang-16 compiles and the harness loads to the recorded verdicts', async (ctx) => {
    await needs(ctx, 'kernel');
    const { out, summary } = await summaryWithFindings();
    for (const f of summary.findings) {
      const dir = join(out, f.dir);
      const object = join(dir, 'repro.bpf.o');
      // the header beside the file is all it needs: the include directory is the finding's own
      await execa(CLANG, bpfClangArgs(join(dir, 'repro.bpf.c'), object, dir), { stdin: 'ignore' });
      const scenario = loadScenarioFile(join(dir, 'scenario.yaml'));
      const plan = join(dir, 'repro.plan');
      // verify only, run nothing: a finding is by definition not known to be safe to execute on the host
      await writeFile(plan, writePlan({ scenarios: [scenario], runSteps: {} }));
      const harness = await execa(DEFAULT_HARNESS_PATH, ['run', object, plan], { stdin: 'ignore' });
      const recorded = (await readFindingRecord(out, f)).observation;
      const [loaded] = parseHarnessOutput(harness.stdout, [scenario], 'host', recorded.kernel);
      const verdicts = (o: typeof recorded) => o.programs.map((p) => (p.verdict === 'accepted'
        ? { program: p.program, verdict: p.verdict }
        // the count of omitted log lines depends on the instructions: the recorded object may be the directly written one
        : { program: p.program, verdict: p.verdict, errno: p.errnoName, summary: p.summary.replace(/ \(\d+ lines omitted\)$/, '') }));
      expect(loaded!.runs).toEqual([]);
      expect(verdicts(loaded!)).toEqual(verdicts(recorded));
    }
  });
});

describe('exit codes', () => {
  it('should exit 0 when every case is as predicted, known divergences included', async (ctx) => {
    await needs(ctx, 'kernel');
    const out = join(base, 'as-predicted');
    const r = await kptrConform(['run', '--runner', 'host', '--runs', '20', '--seed', '7', '--quiet', '--out', out]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const summary = await readSummary(out);
    expect(summary.failed + summary.errors).toBe(0);
    // the regression corpus holds a bug some kernels have (HOST_DIVERGENCE): where this kernel's probe shows it the
    // case is reported as that divergence, where not it is a plain pass; exit 0 either way
    const shown = summary.knownDivergences.shown.includes(HOST_DIVERGENCE);
    const oob = (await readResults(out)).find((l) => l.scenarioId === 'pcpu_oob')!;
    expect([oob.result.status, oob.result.divergences]).toEqual(shown ? ['divergence', [HOST_DIVERGENCE]] : ['pass', []]);
    // summary.json and the console say what every known divergence's probe found on this kernel
    expect(summary.knownDivergences.probes.map((p) => p.divergenceId).sort()).toEqual(loadSpec().divergences.map((d) => d.id).sort());
    expect(r.stdout).toContain(`known divergences on ${summary.kernel.release}: shows ${summary.knownDivergences.shown.join(', ') || 'none'}\n`);
    for (const id of summary.knownDivergences.fixedInThisBuild) expect(r.stdout).toContain(`  ${id}: fixed in this build (${summary.kernel.release})`);
  });

  it('should exit 1 when a case mismatches unexplained, printing the finding with its replay command', async (ctx) => {
    await needs(ctx, 'kernel');
    const { exitCode, stdout } = await campaign();
    const { summary } = await summaryWithFindings();
    expect(exitCode).toBe(1);
    for (const f of summary.findings) expect(stdout).toContain(f.replay);
  });

  it('should exit 2 with one error line naming an unknown option', async () => {
    const r = await kptrConform(['run', '--runz', '3']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^kptr-conform: .*unknown option '--runz'.*--runs/)]);
    expect(r.stdout).toBe('');
  });
});
