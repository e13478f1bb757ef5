/**
 * A campaign's checkpoint: `<out>/checkpoint.json`, replaced whole after each segment of cases, so `run --resume <out>`
 * continues an interrupted campaign on the same seed stream: the cases after the checkpoint are run again (their lines
 * cut from results.jsonl first), none is run twice in the outputs and none is skipped.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KptrError } from '../errors/KptrError.ts';
import { STREAM_VERSION } from '../campaign/shrink.ts';
import type { Summary } from '../reports/summary.ts';
import type { TimelineState } from '../reports/timeline.ts';
import type { CliOptions, RunConfig } from './config.ts';

export const CHECKPOINT_FILE = 'checkpoint.json';

/** A failing case kept for its finding: a corpus entry (index null), or value `index` of the seed's stream (valueAt). */
export interface FailingRef {
  readonly scenarioId: string;
  readonly index: number | null;
}

export interface Checkpoint {
  readonly version: 2;
  /** the options the campaign was started with (as typed), its seed and runner made explicit */
  readonly options: CliOptions;
  /** kernels of the run (RunConfig.kernels) whose segment is finished: their summaries, findings listed */
  readonly done: readonly Summary[];
  /** the current kernel's segment */
  readonly corpusDone: boolean;
  /** how the seed's values are drawn (campaign/shrink.ts STREAM_VERSION), and the index of the next one not yet run */
  readonly stream: { readonly version: number; readonly next: number };
  /** results.jsonl's length when the checkpoint was written: what follows is cut on resume and run again */
  readonly resultsBytes: number;
  /** cases in results.jsonl up to resultsBytes */
  readonly cases: number;
  /** time the current segment has spent generating and running cases (the --duration budget counts it) */
  readonly elapsedMs: number;
  /** the current segment's progress up to the checkpoint: its summary's timeline goes on from it */
  readonly timeline: TimelineState;
  /** the current segment's failing cases so far, written as findings when its cases are done */
  readonly failing: readonly FailingRef[];
  /** every case ran and every finding was written: nothing is left to resume */
  readonly complete: boolean;
}

/** Options `--resume` may change: the budget, and what the console prints. */
const RESUMABLE_WITH: readonly (keyof CliOptions)[] = ['duration', 'untilBugs', 'quiet', 'json', 'resume'];

/** The options a checkpoint keeps: those typed, plus the seed and runner the campaign resolved. */
export function checkpointOptions(typed: CliOptions, cfg: RunConfig): CliOptions {
  const { resume: _resume, force: _force, ...rest } = typed;
  return { ...rest, seed: String(cfg.seed), runner: cfg.runner, out: cfg.outDir };
}

function refused(dir: string, what: string, hint: string): KptrError {
  return new KptrError('KPTR_USAGE', `--resume ${dir}: ${what}`, hint);
}

/** Reads `<dir>/checkpoint.json`. @throws KptrError KPTR_USAGE when there is none, or it is not a checkpoint */
export function readCheckpoint(dir: string): Checkpoint {
  let text: string;
  try {
    text = readFileSync(join(dir, CHECKPOINT_FILE), 'utf8');
  } catch {
    throw refused(dir, `no ${CHECKPOINT_FILE} (not the --out of a campaign, or one older than checkpoints)`, 'pass the --out directory of an interrupted `run`');
  }
  let c: Checkpoint;
  try {
    c = JSON.parse(text) as Checkpoint;
  } catch (e) {
    throw refused(dir, `${CHECKPOINT_FILE} is not JSON (${(e as Error).message})`, 'the checkpoint was damaged; rerun the campaign with its --seed');
  }
  // checkpoints of version 1 continued stream version 1, which drew each value from the random state the one before left
  const stream = (c.version as number) === 1 ? 1 : c.stream?.version;
  if (typeof stream === 'number' && stream !== STREAM_VERSION) {
    throw refused(dir, `its campaign drew seed stream version ${stream}, this kptr-conform draws version ${STREAM_VERSION} (the same seed gives other cases)`,
      `start the campaign again: the same \`run\` options (--seed ${String(c.options?.seed ?? '')}) with --force`);
  }
  if (c.version !== 2 || typeof c.options !== 'object' || typeof c.stream?.next !== 'number') {
    throw refused(dir, `${CHECKPOINT_FILE} is not a checkpoint this version writes`, 'rerun the campaign with its --seed');
  }
  if (c.complete) throw refused(dir, 'that campaign is complete, nothing is left to run', 'start a new campaign (another --seed, or --force)');
  return c;
}

/**
 * The options of the resumed campaign: the checkpoint's, with those `--resume` may change taken from `typed`.
 * @throws KptrError KPTR_USAGE naming the first option typed that differs from the checkpoint's
 */
export function resumedOptions(c: Checkpoint, typed: CliOptions, dir: string): CliOptions {
  if (typed.out !== undefined && resolve(typed.out) !== resolve(dir)) {
    throw refused(dir, `--out ${typed.out} is not the directory resumed`, 'drop --out: a resumed campaign writes where it started');
  }
  for (const [key, value] of Object.entries(typed) as [keyof CliOptions, unknown][]) {
    if (RESUMABLE_WITH.includes(key) || key === 'out') continue;
    if (value !== c.options[key]) {
      const flag = `--${key.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)}`;
      const was = c.options[key] === undefined ? 'not given' : String(c.options[key]);
      throw refused(dir, `${flag} ${String(value)} differs from the interrupted campaign's (${was})`, `drop ${flag}: a resumed campaign keeps its options (only --duration, --until-bugs, --quiet and --json may change)`);
    }
  }
  const changed = Object.fromEntries(RESUMABLE_WITH.filter((k) => k !== 'resume' && typed[k] !== undefined).map((k) => [k, typed[k]]));
  // the directory may have moved since (copied off a machine that stopped)
  return { ...c.options, ...changed, out: resolve(dir) };
}
