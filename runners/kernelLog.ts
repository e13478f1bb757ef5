/**
 * The kernel's log as text — a guest's console (ttyS0) or the host's /dev/kmsg — scanned for splats. Pure. The
 * `kptr-conform: begin|end <scenario>` lines written to /dev/kmsg (by the guest's /init around each case, and by the
 * harness with --kmsg-markers) say whose they are, and the harness's `kptr-conform: logged <pid> [<scenario>
 * <program>]` lines (--kmsg-watch) which program's load or test_run logged them.
 */
import type { Splat } from '../types/index.ts';

/** A splat and the scenario it belongs to. */
export interface ConsoleSplat extends Splat {
  /** the case bracketed around it; a splat after a case's end marker (deferred frees) goes to the case that ended last */
  readonly scenarioId: string | null;
  /** set when a `logged` marker of the harness names the program whose load or test_run logged it (`during` too) */
  readonly program: string | null;
}

type SplatKind = Splat['kind'];

/** Line patterns that open (or, inside an open report, sharpen) a splat; the first match wins. */
const TRIGGERS: readonly (readonly [RegExp, SplatKind])[] = [
  [/^Kernel panic - not syncing/, 'panic'],
  [/^BUG: KASAN: /, 'kasan'],
  [/verifier (?:backtracking )?bug|verifier internal error/, 'verifier_bug'],
  [/rcu: INFO: rcu_\w+ (?:self-)?detected stalls?|rcu_\w+ detected stalls? on CPUs/, 'rcu_stall'],
  [/^Oops: |^general protection fault/, 'oops'],
  [/^kernel BUG at |^BUG: /, 'bug'],
  [/^WARNING: /, 'warn'],
];

/** Kinds after which the kernel may be dying rather than going on (an Oops in an RCU callback can stall the guest). */
const FATAL: ReadonlySet<SplatKind> = new Set(['panic', 'kasan', 'oops', 'bug']);

/** Whether some line of console text opens a fatal splat (same line patterns as consoleSplats). */
export function hasFatalLine(text: string): boolean {
  return kernelLines(text).some((line) => {
    const kind = TRIGGERS.find(([re]) => re.test(line))?.[1];
    return kind !== undefined && FATAL.has(kind);
  });
}

/** Kinds ranked by severity: a WARNING whose message says "verifier bug" is a verifier bug; an Oops that panics is a panic. */
const SEVERITY: readonly SplatKind[] = ['warn', 'bug', 'oops', 'rcu_stall', 'verifier_bug', 'kasan', 'panic', 'hang'];

const CUT_HERE = /^-+\[ cut here \]-+$/;
const END_OF_REPORT = /^-+\[ end (?:trace|Kernel panic)|^=+$/;
const MARKER = /^kptr-conform: (begin|end) (\S+)/;
/** harness --kmsg-watch: what the kernel logged since the previous such line came from this process's call of this program ('-': no scenario in the plan) */
const LOGGED = /^kptr-conform: logged (\d+)(?: (\S+) (\S+))?/;
/** the task in a report's header: `CPU: 1 PID: 8012 at ...` / `CPU: 1 UID: 0 PID: 8012 Comm: ...` (to 7.0), `CPU#0: harness/110` (7.x) */
const REPORT_PID = /\bPID: (\d+)\b|\bCPU#\d+: \S+\/(\d+)\b/;
/** a report longer than this is cut into pieces rather than swallowing what follows */
const MAX_REPORT_LINES = 200;

/** `[    1.234567] ` and `[    1.234567][    T1] ` prefixes, and whatever precedes the first (firmware escape codes) */
const TIMESTAMP = /^.*?\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])?\s?/;

/**
 * The console's lines without timestamps. A bare CR ends a line too: the boot loader's screen ends in one
 * ("Booting from ROM..\r[    5.2] kptr-conform: begin …"), and a marker glued behind it would otherwise be missed.
 */
function kernelLines(text: string): string[] {
  return text.split(/\r*\n|\r+/).map((line) => line.replace(TIMESTAMP, ''));
}

/** The task a report names in its header. */
function reportPid(text: string): string | null {
  const m = REPORT_PID.exec(text);
  return m === null ? null : (m[1] ?? m[2] ?? null);
}

/** Finds every splat in the kernel console text, with its text and the scenario it is attributed to. */
export function consoleSplats(text: string): ConsoleSplat[] {
  const splats: ConsoleSplat[] = [];
  let current: string | null = null;
  let lastEnded: string | null = null;
  let open: { kind: SplatKind | null; lines: string[]; scenarioId: string | null; after: boolean } | null = null;
  /** splats whose report names a task, by pid, not yet claimed by a `logged` marker of that pid */
  const unclaimed = new Map<string, number[]>();

  const close = (): void => {
    if (open?.kind) {
      const text = open.lines.join('\n');
      const pid = reportPid(text);
      if (pid !== null) unclaimed.set(pid, [...(unclaimed.get(pid) ?? []), splats.length]);
      splats.push({ kind: open.kind, text, during: open.after ? 'after the case ended' : null, scenarioId: open.scenarioId, program: null });
    }
    open = null;
  };
  const claim = (pid: string, scenario: string | undefined, program: string | undefined): void => {
    for (const i of unclaimed.get(pid) ?? []) {
      const sp = splats[i] as ConsoleSplat;
      if (program !== undefined) splats[i] = { ...sp, program, during: program, scenarioId: scenario === '-' ? sp.scenarioId : scenario ?? null };
    }
    unclaimed.delete(pid);
  };
  const start = (kind: SplatKind | null, line: string): void => {
    close();
    open = { kind, lines: [line], scenarioId: current ?? lastEnded, after: current === null && lastEnded !== null };
  };

  for (const line of kernelLines(text)) {
    if (line.trim() === '') continue;
    const logged = LOGGED.exec(line);
    if (logged) {
      // the marker follows the syscall, so a report of the same task is complete; another task's goes on past it
      if (open !== null && reportPid((open as { lines: string[] }).lines.join('\n')) === logged[1]) close();
      claim(logged[1] as string, logged[2], logged[3]);
      continue;
    }
    const marker = MARKER.exec(line);
    if (marker) {
      close();
      if (marker[1] === 'begin') current = marker[2] ?? null;
      else {
        lastEnded = marker[2] ?? current;
        current = null;
      }
      continue;
    }
    const kind = TRIGGERS.find(([re]) => re.test(line))?.[1] ?? null;
    if (CUT_HERE.test(line)) {
      start(null, line);
      continue;
    }
    if (open === null) {
      if (kind) start(kind, line);
      continue;
    }
    const o: { kind: SplatKind | null; lines: string[] } = open;
    o.lines.push(line);
    if (kind && (o.kind === null || SEVERITY.indexOf(kind) > SEVERITY.indexOf(o.kind))) o.kind = kind;
    if (END_OF_REPORT.test(line) && o.lines.length > 1) close();
    else if (o.lines.length >= MAX_REPORT_LINES) close();
  }
  close();
  return splats;
}

/**
 * Scenarios whose `kptr-conform: begin` marker has no `end` after it, in the order they began: the harness (or
 * /init) was inside them when it died or the guest stopped.
 */
export function unclosedScenarios(text: string): string[] {
  const open: string[] = [];
  for (const line of kernelLines(text)) {
    const m = MARKER.exec(line);
    if (!m) continue;
    const id = m[2] as string;
    const at = open.indexOf(id);
    if (at >= 0) open.splice(at, 1);
    if (m[1] === 'begin') open.push(id);
  }
  return open;
}
