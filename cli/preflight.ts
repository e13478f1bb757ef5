/**
 * Checks that need the file system, made once before a command does any work, so that a bad option or environment
 * is one line and exit 2 rather than a failure (or a hang) halfway through: the vm runner's kernels exist and are
 * whole bzImages, the output directory (and the corpus a campaign saves findings to) can be created and written,
 * and the output directory does not hold an earlier run unless --force says to replace it.
 */
import { mkdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { KptrError } from '../errors/KptrError.ts';
import type { Codegen } from '../compile/buildObject.ts';
import { resolveKernel } from '../runners/vm/kernelImages.ts';
import type { ReplayTarget } from '../reports/replayCommand.ts';
import type { RunConfig } from './config.ts';
import type { Session } from './session.ts';

/**
 * Every entry a run writes into its output directory (cli/outputs.ts and the reporters: summary, results, JUnit,
 * test_progs JSON, HTML, kernels comparison, findings, the runners' scratch directory with objects and guest
 * console logs). Their presence marks an earlier run; --force removes these and nothing else.
 */
export const RUN_OUTPUTS = [
  'summary.json', 'results.jsonl', 'junit.xml', 'test_progs.json', 'report.html', 'kernels.json', 'findings', '.work', 'checkpoint.json',
] as const;

const PROBE_FILE = `.kptr-conform-probe-${process.pid}`;

/** `ENOENT: no such file or directory` from a Node fs error (its message repeats the call and path after a comma). */
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? (e.message.split(',')[0] ?? e.code) : String(err);
}

function unusable(flag: string, dir: string, what: string, err?: unknown): KptrError {
  const why = err === undefined ? '' : ` (${reason(err)})`;
  return new KptrError('KPTR_OUTPUT_UNUSABLE', `${flag} ${dir}: ${what}${why}`, `pass ${flag} a directory you can create and write to`, { cause: err });
}

/** true: a directory, false: something else, null: nothing there (or a file where a parent directory should be). */
function isDir(flag: string, path: string): boolean | null {
  try {
    return statSync(path).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw unusable(flag, path, 'cannot look at it', err);
  }
}

/**
 * Creates `dir` one component at a time: Node's recursive mkdir retries forever where a parent exists but refuses
 * children with ENOENT (`/proc/foo`), so it is never used on a path the user typed.
 */
function makeDir(flag: string, dir: string): void {
  const missing: string[] = [];
  let at = dir;
  while (isDir(flag, at) === null) {
    missing.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  if (isDir(flag, at) === false) throw unusable(flag, dir, `cannot create it, ${at} is not a directory`);
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (err) {
      throw unusable(flag, dir, 'cannot create it', err);
    }
  }
}

/** A directory the run can write to: created when missing, a probe file written and removed. */
export function ensureWritableDir(path: string, flag: string): void {
  const dir = resolve(path);
  const exists = isDir(flag, dir);
  if (exists === false) throw unusable(flag, dir, 'it is not a directory');
  if (exists === null) makeDir(flag, dir);
  const probe = join(dir, PROBE_FILE);
  try {
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (err) {
    throw unusable(flag, dir, 'cannot write into it', err);
  }
}

/** The entries of RUN_OUTPUTS that `dir` holds. */
export function earlierRun(dir: string): string[] {
  return RUN_OUTPUTS.filter((name) => isDir('--out', join(dir, name)) !== null);
}

/**
 * The output directory, ready: refused when it holds an earlier run (findings of that run would sit beside a summary
 * of this one) unless `force`, which removes only what a run writes (RUN_OUTPUTS). Checked for writing first, so a
 * refused directory loses nothing.
 */
export function prepareOutDir(path: string, force: boolean): void {
  const dir = resolve(path);
  ensureWritableDir(dir, '--out');
  const earlier = earlierRun(dir);
  if (earlier.length === 0) return;
  if (!force) {
    throw new KptrError('KPTR_OUTPUT_IN_USE', `${dir} holds an earlier run (${earlier.join(', ')})`, 'choose another --out, or add --force to replace that run\'s files');
  }
  for (const name of earlier) rmSync(join(dir, name), { recursive: true, force: true });
}

/**
 * The command's first step, after its options are resolved: kernels first (nothing is written before they are known
 * good), then the output directories. Returns the config with each vm kernel named exactly (a cached release, or
 * an absolute image path), so that the whole run and every replay command use the same image.
 */
export async function preflight(cfg: RunConfig, o: { readonly resume?: boolean } = {}): Promise<RunConfig> {
  const kernels = cfg.runner === 'vm'
    ? await Promise.all(cfg.kernels.map(async (k) => {
      const image = await resolveKernel(k);
      return image.suite === null ? image.vmlinuz : image.release;
    }))
    : cfg.kernels;
  const twice = kernels.find((k, i) => kernels.indexOf(k) !== i);
  if (twice !== undefined) throw new KptrError('KPTR_USAGE', `--kernels names the image ${twice} twice`, 'name each kernel once');
  if (cfg.saveFindings && cfg.corpusDir !== null) ensureWritableDir(cfg.corpusDir, '--corpus');
  // a resumed campaign continues in its own output directory (cli/checkpoint.ts)
  if (o.resume) ensureWritableDir(cfg.outDir, '--out');
  else prepareOutDir(cfg.outDir, cfg.force);
  return { ...cfg, kernels };
}

/** How `replay` names a session's runner and kernel again, with the codegen that made the objects in question. */
export function replayTarget(session: Pick<Session, 'runner' | 'kernelName'>, codegen: Codegen): ReplayTarget {
  return { runner: session.runner.name, kernel: session.runner.name === 'vm' ? session.kernelName : null, codegen };
}
