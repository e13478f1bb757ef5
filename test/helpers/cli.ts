import { cp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { EmulatorComparison } from '../../judge/emulatorComparison.ts';
import type { FindingRef, Summary } from '../../reports/summary.ts';
import type { CaseResult, Observation } from '../../types/index.ts';
import type { ResultLine } from '../../reports/readResults.ts';

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

/** A copy of this checkout's product files (modes and times kept) under `dest`, without node_modules. */
export async function copyCheckout(dest: string): Promise<void> {
  await cp(REPO_ROOT, dest, {
    recursive: true,
    preserveTimestamps: true,
    filter: (src) => {
      const top = relative(REPO_ROOT, src).split(sep)[0] ?? '';
      return !NOT_COPIED.has(top) && !top.startsWith('kptr-out');
    },
  });
}

/** The rule whose messages a planted checkout rewrites: every kernel with per-CPU kptrs refuses a leak the same way. */
export const PLANTED_RULE = 'ref.leak';
/** The line the planted rule expects instead of the kernel's: no kernel prints it. */
export const PLANTED_LINE = 'kptr-conform test: a line no kernel prints';

/**
 * A copy of this checkout under `dest` whose spec expects PLANTED_LINE wherever a kernel refuses a reference leak,
 * plus a regression corpus entry that leaks: every kernel then disagrees with the spec, which is a real finding of the
 * whole tool (verified by the kernel, compared, reproduced with clang, reported) whatever bugs the kernel has or has
 * not. The CLI reads the spec beside its own source, hence the copy.
 */
export async function checkoutWithPlantedMismatch(dest: string): Promise<string> {
  await copyCheckout(dest);
  await symlink(join(REPO_ROOT, 'node_modules'), join(dest, 'node_modules'));
  const rule = join(dest, 'specs/rules', `${PLANTED_RULE}.yaml`);
  const text = await readFile(rule, 'utf8');
  const planted = text.replace(/^(\s*lines: )\[.*\]$/gm, (_all, head: string) => `${head}['${PLANTED_LINE}']`);
  if (planted === text) throw new Error(`${rule} has no message lines to plant a mismatch in`);
  await writeFile(rule, planted);
  await writeFile(join(dest, 'specs/regressions', 'planted_leak.yaml'), PLANTED_LEAK);
  return dest;
}

/** A program that leaks a new per-CPU object: refused by every kernel with bpf_percpu_obj_new. */
const PLANTED_LEAK = `id: planted_leak
description: a new per-CPU object never dropped
origin: null
intent: { kind: break, rule: ${PLANTED_RULE} }
structs:
  - name: planted_leak_t0
    members:
      - { kind: scalar, ctype: long, count: null, name: f0 }
slots: []
globals: []
programs:
  - name: planted_leak_p0
    progType: tc
    license: GPL
    vars:
      - { name: v1, type: { kind: percpu, struct: planted_leak_t0 } }
    ops:
      - { op: new, dst: v1, struct: planted_leak_t0, percpu: true }
schedule: []
`;

/**
 * A real campaign on the host kernel with at least one finding: the planted checkout (its corpus holds the leak) and
 * a few valid generated cases, with every reporter writing into `<base>/out`. Valid cases only, so the corpus entry
 * is the finding and nothing needs shrinking.
 */
export async function campaignWithFinding(base: string): Promise<CliRun & { readonly root: string; readonly out: string; readonly runs: number }> {
  const root = await checkoutWithPlantedMismatch(join(base, 'checkout'));
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
export type { ResultLine } from '../../reports/readResults.ts';

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
