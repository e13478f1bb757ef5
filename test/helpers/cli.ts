import { cp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { FindingRef, Summary } from '../../reports/summary.ts';
import type { CaseResult, KernelInfo, Observation, Prediction, RunnerName } from '../../types/index.ts';

/** This checkout's root (where bin/, specs/ and runners/ are). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

export interface CliRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `kptr-conform ARGS` exactly as a user starts it (the package's bin under node) in `root`; never throws on a non-zero exit. */
export async function kptrConform(args: readonly string[], root: string = REPO_ROOT): Promise<CliRun> {
  const r = await execa(process.execPath, [join(root, 'bin/kptr-conform.js'), ...args], { cwd: root, reject: false, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Top-level entries of a checkout that are not the product: dependencies (linked instead), history, run outputs. */
const NOT_COPIED = new Set(['node_modules', '.git', 'out', 'build', '.cache']);

/**
 * A copy of this checkout under `dest` whose spec lacks the known divergence `divergenceId`: the spec as it stood
 * before that kernel behaviour was understood, so the host kernel's real behaviour shows up as an unexplained
 * finding again, as it did when it was first found. The CLI reads the spec beside its own source, hence the copy.
 * Throws when the divergence is not in the spec (the test would no longer produce a finding).
 */
export async function checkoutWithoutDivergence(dest: string, divergenceId: string): Promise<string> {
  await cp(REPO_ROOT, dest, {
    recursive: true,
    preserveTimestamps: true,
    filter: (src) => {
      const top = relative(REPO_ROOT, src).split(sep)[0] ?? '';
      return !NOT_COPIED.has(top) && !top.startsWith('kptr-out');
    },
  });
  await symlink(join(REPO_ROOT, 'node_modules'), join(dest, 'node_modules'));
  await rm(join(dest, 'specs/divergences', `${divergenceId}.yaml`));
  // built-in cases that list it (its probe's case) list nothing in its place
  for (const file of await readdir(join(dest, 'specs/selftests'))) {
    const path = join(dest, 'specs/selftests', file);
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.replace(/^(\s*divergences: )\[([^\]\n]*)\]/gm, (_all, head: string, ids: string) => `${head}[${ids.split(',').map((x) => x.trim()).filter((x) => x !== divergenceId).join(', ')}]`));
  }
  return dest;
}

/**
 * The host kernel accepts a store through an unchecked bpf_per_cpu_ptr result (the spec records it as this known
 * divergence); without it, the regression corpus entry for that bug and generated breaks of that rule are findings.
 */
export const HOST_DIVERGENCE = 'per_cpu_ptr_result_not_maybe_null';

/**
 * A real campaign on the host kernel with at least one finding: the checkout without HOST_DIVERGENCE, its default
 * corpus (which holds that bug's regression entry) and a few valid generated cases, with every reporter writing
 * into `<base>/out`. Valid cases only, so the corpus entry is the finding and nothing needs shrinking.
 */
export async function campaignWithFinding(base: string): Promise<CliRun & { readonly root: string; readonly out: string; readonly runs: number }> {
  const root = await checkoutWithoutDivergence(join(base, 'checkout'), HOST_DIVERGENCE);
  const out = join(base, 'out');
  const runs = 20;
  const run = await kptrConform(['run', '--runner', 'host', '--runs', String(runs), '--seed', '7', '--mode', 'valid', '--quiet', '--out', out], root);
  return { ...run, root, out, runs };
}

/** A fixture made on first use and then shared by a file's tests (a CLI run is the expensive part). */
export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | null = null;
  return () => (made ??= make());
}

/** One line of results.jsonl. */
export interface ResultLine {
  readonly scenarioId: string;
  readonly runner: RunnerName;
  readonly kernel: KernelInfo;
  readonly prediction: Prediction | null;
  readonly observation: Observation;
  readonly result: CaseResult;
  readonly durations: { readonly loadNs: number; readonly runNs: number };
}

export async function readSummary(out: string): Promise<Summary> {
  return JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Summary;
}

export async function readResults(out: string): Promise<ResultLine[]> {
  const text = await readFile(join(out, 'results.jsonl'), 'utf8');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as ResultLine);
}

/** findings/<id>/finding.json: the full case as the campaign recorded it. */
export async function readFindingRecord(out: string, ref: FindingRef): Promise<{ readonly result: CaseResult; readonly observation: Observation }> {
  return JSON.parse(await readFile(join(out, ref.dir, 'finding.json'), 'utf8')) as { result: CaseResult; observation: Observation };
}
