/**
 * The second stage of shrinking: fast-check shrinks values, but a program whose results are as predicted (or a known
 * divergence) often survives it, since the candidates that would remove it change something else too. Here the
 * scenario itself is reduced: programs that show nothing of the bug, then schedule steps, each removal kept only when
 * the kernel still shows the same bug. A reproducer then carries only what shows the bug.
 */
import type { Op, Scenario, ScheduleStep } from '../types/index.ts';
import { isRunStep } from '../types/index.ts';

/** Globals an op writes (`read`, `sum`), through `if` blocks. */
function globalsOf(ops: readonly Op[]): string[] {
  return ops.flatMap((o) => (o.op === 'read' || o.op === 'sum' ? [o.global] : o.op === 'if' ? globalsOf(o.then) : []));
}

/** `s` without the programs `drop`, their schedule steps, and the globals no remaining program writes. */
export function withoutPrograms(s: Scenario, drop: ReadonlySet<string>): Scenario {
  const programs = s.programs.filter((p) => !drop.has(p.name));
  const written = new Set(programs.flatMap((p) => globalsOf(p.ops)));
  return {
    ...s,
    programs,
    globals: s.globals.filter((g) => written.has(g.name)),
    schedule: s.schedule.flatMap((x): ScheduleStep[] => {
      if (!('concurrent' in x)) return isRunStep(x) && drop.has(x.program) ? [] : [x];
      // a concurrent step whose other program goes becomes a plain run of the one left
      const left = x.concurrent.filter((r) => !drop.has(r.program));
      return left.length === 2 ? [x] : left;
    }),
  };
}

/** `s` without schedule step `i`. */
export function withoutStep(s: Scenario, i: number): Scenario {
  return { ...s, schedule: s.schedule.filter((_, j) => j !== i) };
}

/**
 * What to try next, most reduced first: every program that shows nothing of the bug at once, then each of them alone
 * (when there are several), then each schedule step.
 * @param showing names of the programs an unexplained mismatch names
 */
export function reductionCandidates(s: Scenario, showing: ReadonlySet<string>): Scenario[] {
  const others = s.programs.map((p) => p.name).filter((n) => !showing.has(n));
  const all = others.length === 0 ? [] : [withoutPrograms(s, new Set(others))];
  const each = others.length > 1 ? others.map((n) => withoutPrograms(s, new Set([n]))) : [];
  return [...all, ...each, ...s.schedule.map((_, i) => withoutStep(s, i))];
}

export interface DropResult {
  readonly scenario: Scenario;
  /** candidates kept */
  readonly dropped: number;
  /** runner round trips */
  readonly rounds: number;
  /** stopped by the signal: `scenario` is the smallest known to show the bug */
  readonly interrupted: boolean;
}

/**
 * Greedy: check the candidates of the current scenario in one batch, move to the first that still shows the bug,
 * until none does.
 * @param check per candidate, the programs that show the bug if the candidate still shows the same bug, else null
 */
export async function dropAsPredicted(
  start: Scenario,
  showing: ReadonlySet<string>,
  check: (candidates: readonly Scenario[]) => Promise<readonly (ReadonlySet<string> | null)[]>,
  opts: { readonly maxRounds: number; readonly signal?: AbortSignal },
): Promise<DropResult> {
  let current = start;
  let shows = showing;
  let dropped = 0;
  let rounds = 0;
  while (rounds < opts.maxRounds && !opts.signal?.aborted) {
    const candidates = reductionCandidates(current, shows);
    if (candidates.length === 0) break;
    let verdicts: readonly (ReadonlySet<string> | null)[];
    try {
      verdicts = await check(candidates);
    } catch (e) {
      // a check cut short by the signal says nothing about its candidates: keep the last scenario known to fail
      if (opts.signal?.aborted) break;
      throw e;
    }
    rounds += 1;
    const hit = verdicts.findIndex((v) => v !== null);
    if (hit < 0) break;
    current = candidates[hit]!;
    shows = verdicts[hit]!;
    dropped += 1;
  }
  return { scenario: current, dropped, rounds, interrupted: opts.signal?.aborted ?? false };
}
