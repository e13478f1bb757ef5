import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { Job } from 'kubernetes-models/batch/v1';
import { PersistentVolumeClaim } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { MergeCliOptions } from '../../../cli/commands/merge.ts';
import { resolveConfig, type CliOptions, type RunConfig } from '../../../cli/config.ts';
import { cliProgram } from '../../../cli/program.ts';
import { reporters } from '../../../reports/reporter.ts';
import { REPO_ROOT } from '../../helpers/cli.ts';

// The recipes that run campaigns on real engines (deploy/, .github/workflows/) hold command lines the tool must
// accept: each is expanded by a real shell, then parsed by the CLI's own parser and resolved as a run would be.

type Parsed = { readonly command: 'run'; readonly cfg: RunConfig } | { readonly command: 'merge'; readonly dirs: readonly string[]; readonly opts: MergeCliOptions } | { readonly command: 'other' };

/** One kptr-conform command line (without the program name) through the real parser, and a run's options resolved. */
async function parseCli(argv: readonly string[]): Promise<Parsed> {
  let parsed: Parsed = { command: 'other' };
  const none = async (): Promise<void> => {};
  const program = cliProgram({
    run: async (opts: CliOptions) => {
      parsed = { command: 'run', cfg: resolveConfig(opts, { command: 'run', now: new Date(0), randomSeed: 1, formatNames: Object.keys(reporters), cwd: '/w', repoRoot: REPO_ROOT }) };
    },
    merge: async (dirs, opts) => { parsed = { command: 'merge', dirs, opts }; },
    selftests: none, replay: none, emulate: none, doctor: none, kernelsList: none, kernelsFetch: none,
  });
  program.exitOverride().configureOutput({ writeErr: (s) => { throw new Error(`not accepted: ${argv.join(' ')}: ${s}`); } });
  await program.parseAsync([...argv], { from: 'user' });
  return parsed;
}

/**
 * The kptr-conform command lines a shell script runs, expanded by /bin/sh with `env`: `launcher` (node or npx) is a
 * shell function that prints its arguments instead of running anything.
 */
async function commandLines(script: string, launcher: 'node' | 'npx', env: Record<string, string> = {}): Promise<string[][]> {
  const stub = `${launcher}() { shift; printf '%s\\0' "$@"; printf '\\n\\0'; }\n`;
  const r = await execa('/bin/sh', ['-c', stub + script], { env, extendEnv: false });
  return r.stdout.split('\n\0').filter((s) => s !== '').map((s) => s.split('\0').filter((a) => a !== ''));
}

const read = (path: string): string => readFileSync(join(REPO_ROOT, path), 'utf8');

describe('deploy/kubernetes: the Indexed Job and its merge', () => {
  const docs = parseAllDocuments(read('deploy/kubernetes/campaign-job.yaml')).map((d) => d.toJS() as { kind: string });
  const pvc = new PersistentVolumeClaim(docs.find((d) => d.kind === 'PersistentVolumeClaim') as PersistentVolumeClaim);
  const job = new Job(docs.find((d) => d.kind === 'Job') as Job);
  const merge = new Job(parse(read('deploy/kubernetes/merge-job.yaml')) as Job);

  it('should be valid Kubernetes objects (kubernetes-models schemas)', () => {
    expect(docs.map((d) => d.kind)).toEqual(['PersistentVolumeClaim', 'Job']);
    for (const o of [pvc, job, merge]) expect(() => o.validate()).not.toThrow();
    expect(job.spec?.completionMode).toBe('Indexed');
    expect(job.spec?.parallelism).toBe(job.spec?.completions);
    // both Jobs write to the one volume
    for (const j of [job, merge]) expect(j.spec?.template.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName).toBe(pvc.metadata?.name);
  });

  it('should run shard JOB_COMPLETION_INDEX + 1 of `completions` in each pod, and merge every shard\'s directory', async () => {
    const n = job.spec!.completions!;
    const script = job.spec!.template.spec!.containers[0]!.args![0]!;
    const runs: RunConfig[] = [];
    for (let i = 0; i < n; i++) {
      const lines = await commandLines(script, 'node', { JOB_COMPLETION_INDEX: String(i) });
      const parsed = await Promise.all(lines.map(parseCli));
      const run = parsed.find((p) => p.command === 'run');
      expect(run, `pod ${i}: ${JSON.stringify(lines)}`).toBeDefined();
      if (run?.command === 'run') runs.push(run.cfg);
    }
    expect(runs.map((c) => c.shard)).toEqual(Array.from({ length: n }, (_, i) => ({ k: i + 1, n })));
    expect(new Set(runs.map((c) => c.seed)).size).toBe(1);
    expect(new Set(runs.map((c) => c.outDir)).size).toBe(n);
    const [mergeLine] = await commandLines(merge.spec!.template.spec!.containers[0]!.args![0]!, 'node');
    const m = await parseCli(mergeLine!);
    expect(m.command).toBe('merge');
    if (m.command === 'merge') expect([...m.dirs].sort()).toEqual(runs.map((c) => c.outDir).sort());
  });
});

describe('.github/workflows/campaign.yml: shards × kernels, then a merged report', () => {
  interface Step { readonly run?: string; readonly uses?: string; readonly with?: Record<string, unknown> }
  interface Workflow {
    readonly on: { readonly workflow_dispatch: { readonly inputs: Record<string, { readonly default: string }> } };
    readonly jobs: {
      readonly shard: { readonly strategy: { readonly matrix: { readonly shard: number[]; readonly kernel: string[] } }; readonly steps: Step[] };
      readonly merge: { readonly needs: string; readonly steps: Step[] };
    };
  }
  const wf = parse(read('.github/workflows/campaign.yml')) as Workflow;
  const { shard: shards, kernel: kernels } = wf.jobs.shard.strategy.matrix;
  const inputs = wf.on.workflow_dispatch.inputs;

  /** GitHub's `${{ }}` expressions the workflow uses: matrix values, and inputs (empty on a schedule, so the `||` fallback). */
  const expand = (text: string, matrix: Record<string, string | number>): string =>
    text.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_all, expr: string) => {
      const m = /^matrix\.(\w+)$/.exec(expr);
      if (m) return String(matrix[m[1]!]);
      const i = /^inputs\.(\w+) \|\| '([^']*)'$/.exec(expr);
      if (i) {
        expect(i[2], `${expr}: the schedule's fallback is the input's default`).toBe(inputs[i[1]!]!.default);
        return i[2]!;
      }
      throw new Error(`expression the test does not know: ${expr}`);
    });

  it('should run every shard of every kernel once, on one seed, into its own directory', async () => {
    const runs: RunConfig[] = [];
    for (const shard of shards) {
      for (const kernel of kernels) {
        for (const step of wf.jobs.shard.steps.filter((s) => s.run?.includes('kptr-conform'))) {
          for (const line of await commandLines(expand(step.run!, { shard, kernel }), 'npx')) {
            const p = await parseCli(line);
            if (p.command === 'run') runs.push(p.cfg);
          }
        }
      }
    }
    expect(runs).toHaveLength(shards.length * kernels.length);
    for (const kernel of kernels) {
      expect(runs.filter((c) => c.kernels[0] === kernel).map((c) => c.shard)).toEqual(shards.map((k) => ({ k, n: shards.length })));
    }
    expect(new Set(runs.map((c) => c.seed)).size).toBe(1);
    expect(new Set(runs.map((c) => c.outDir)).size).toBe(runs.length);
    expect(runs.every((c) => c.runner === 'vm' && c.durationMs !== null)).toBe(true);
  });

  it('should merge, after the shards, every directory they upload, and upload the merged report', async () => {
    expect(wf.jobs.merge.needs).toBe('shard');
    const step = wf.jobs.merge.steps.find((s) => s.run?.includes('kptr-conform merge'))!;
    const [line] = await commandLines(step.run!.replace(/\*/g, '\\*'), 'npx');
    const m = await parseCli(line!);
    expect(m.command).toBe('merge');
    if (m.command !== 'merge') return;
    // the glob matches each shard's --out (the artifacts are downloaded into out/)
    const glob = new RegExp(`^${m.dirs[0]!.replace(/\*/g, '[^/]+')}$`);
    for (const shard of shards) for (const kernel of kernels) expect(`out/${kernel}-${shard}`).toMatch(glob);
    const upload = wf.jobs.merge.steps.filter((s) => s.uses?.startsWith('actions/upload-artifact')).map((s) => String(s.with?.path).replace(/\/$/, ''));
    expect(upload).toContain(m.opts.out);
    const download = wf.jobs.merge.steps.find((s) => s.uses?.startsWith('actions/download-artifact'))!;
    expect(download.with).toMatchObject({ path: 'out', 'merge-multiple': true });
  });
});
