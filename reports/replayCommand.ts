import type { Codegen } from '../compile/buildObject.ts';
import type { RunnerName } from '../types/index.ts';

/** What `replay` uses unless told: the C a reproducer is, compiled by clang (cli/config.ts resolves the default). */
export const REPLAY_CODEGEN: Codegen = 'clang';

/** Where a case ran, as `replay` options name it again. */
export interface ReplayTarget {
  readonly runner: RunnerName;
  /** vm runner: the `--kernel` value naming the same image (a cached release or an image path); null on the host */
  readonly kernel: string | null;
  /** how the objects that showed the case were made */
  readonly codegen: Codegen;
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./+:=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The runner, kernel and codegen options (the last only when it is not replay's and selftests' default). */
function targetOptions(target: ReplayTarget): string[] {
  return [
    '--runner', target.runner,
    ...(target.kernel === null ? [] : ['--kernel', target.kernel]),
    ...(target.codegen === REPLAY_CODEGEN ? [] : ['--codegen', target.codegen]),
  ];
}

/** The one line a user pastes to re-run a case: the scenario file (a finding's scenario.yaml) on the same runner, kernel and codegen. */
export function replayCommand(file: string, target: ReplayTarget): string {
  return ['npx kptr-conform replay', ...[file, ...targetOptions(target)].map(shellQuote)].join(' ');
}

/** The same for a built-in case, which has no file of its own: `selftests`, filtered to its id. */
export function selftestCommand(caseId: string, target: ReplayTarget): string {
  return ['npx kptr-conform selftests', ...['--filter', caseId, ...targetOptions(target)].map(shellQuote)].join(' ');
}
