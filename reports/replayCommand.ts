import type { RunnerName } from '../types/index.ts';

/** The one line a user pastes to re-run a case: the scenario file (a finding's scenario.yaml) on the same runner. */
export function replayCommand(file: string, runner: RunnerName): string {
  const quoted = /^[A-Za-z0-9_./+-]+$/.test(file) ? file : `'${file.replace(/'/g, `'\\''`)}'`;
  return `npx kptr-conform replay ${quoted} --runner ${runner}`;
}
