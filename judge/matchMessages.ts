import { linesToError } from '../bpf/verifierLog.ts';
/**
 * test_loader semantics for expected verifier messages (tools/testing/selftests/bpf/test_loader.c):
 * each line is a substring with `{{regex}}` islands, and each must be found after the previous match.
 */

export type PieceStatus = 'MATCHED' | 'EXPECTED';

export interface MessagePiece {
  readonly pattern: string;
  readonly status: PieceStatus;
}

export interface MessageMatch {
  readonly ok: boolean;
  /** one per expected line; after the first miss every later line is EXPECTED too (never looked for) */
  readonly pieces: readonly MessagePiece[];
}

const ISLAND = /\{\{(.*?)\}\}/g;

function escapeRegex(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A line without islands is a plain substring (strstr); with islands the literal parts are escaped and the islands
 * kept, as compile_regex does. The `m` flag gives REG_NEWLINE: `^`/`$` at line ends, `.` never crosses a newline.
 */
function compileLine(line: string): RegExp | null {
  if (!line.includes('{{')) return null;
  let source = '';
  let last = 0;
  for (const m of line.matchAll(ISLAND)) {
    source += escapeRegex(line.slice(last, m.index)) + m[1];
    last = m.index + m[0].length;
  }
  return new RegExp(source + escapeRegex(line.slice(last)), 'm');
}

/** Where `line` matches in `log` at or after `from`: the end offset of the match, or -1. */
function findAfter(log: string, line: string, from: number): number {
  const re = compileLine(line);
  if (re === null) {
    const at = log.indexOf(line, from);
    return at < 0 ? -1 : at + line.length;
  }
  // regexec runs on the rest of the buffer, so `^` may match at its start: slice, like the C pointer arithmetic.
  const m = re.exec(log.slice(from));
  return m === null ? -1 : from + m.index + m[0].length;
}

/** Match `lines` in order against a verifier (or libbpf) log. */
export function matchMessages(log: string, lines: readonly string[]): MessageMatch {
  const pieces: MessagePiece[] = [];
  let pos = 0;
  let ok = true;
  for (const pattern of lines) {
    const end = ok ? findAfter(log, pattern, pos) : -1;
    if (end < 0) ok = false;
    else pos = end;
    pieces.push({ pattern, status: end < 0 ? 'EXPECTED' : 'MATCHED' });
  }
  return { ok, pieces };
}

/** libbpf's frame around a log it prints: never the error itself. */
const LIBBPF_FRAME = /^-- END PROG LOAD LOG --/;

/** The log's lines up to its error (bpf/verifierLog.ts: no statistics, no 7.x report), libbpf's frame left out. */
const errorSide = (log: string): string[] => linesToError(log).filter((l) => !LIBBPF_FRAME.test(l));

/** The last line of the log that is not statistics or a 7.x report: what the kernel actually complained about. */
export function lastErrorLine(log: string): string | null {
  return errorSide(log).at(-1) ?? null;
}

/**
 * Lines of the verifier's instruction trace, not of its complaint: an instruction or the state after one (`12: ...`),
 * a source line (`; p = e->pc; @ file.c:13`), register state (`R1=...`), precision backtracking, branch and
 * function headers.
 */
const TRACE_LINE = [/^\d+: /, /^; /, /^R\d+(_w)?=/, /^mark_precise: /, /^from \d+ to \d+: /, /^func#\d+ /, /^Live regs /, /^Global function /, /^Func#\d+ /];

/**
 * The first line of the error block the log ends with (after the last line of the instruction trace, before the
 * statistics): what the kernel complained about first, as RESULTS.md records it (`Unreleased reference id=2
 * alloc_insn=3` where 6.18 goes on with `BPF_EXIT instruction in main prog would lead to reference leak`). A log
 * without a trace (libbpf's refusal) gives its first line.
 */
export function firstErrorLine(log: string): string | null {
  const lines = errorSide(log);
  let start = lines.length;
  while (start > 0 && !TRACE_LINE.some((re) => re.test(lines[start - 1]!))) start--;
  return start < lines.length ? lines[start]! : null;
}

/**
 * Render a failed match the way validate_msgs does: every expected piece as MATCHED / EXPECTED (SUBSTR or REGEX),
 * the kernel's actual last error line as UNEXPECTED, then the full log between `=` rules.
 */
export function explainMismatch(log: string, lines: readonly string[]): string {
  const { pieces } = matchMessages(log, lines);
  const out = pieces.map((p) => `${p.status === 'MATCHED' ? 'MATCHED ' : 'EXPECTED'} ${p.pattern.includes('{{') ? ' REGEX' : 'SUBSTR'}: '${p.pattern}'`);
  const actual = lastErrorLine(log);
  if (actual !== null) out.push(`UNEXPECTED       : '${actual}'`);
  out.push('VERIFIER LOG:', '=============', log.endsWith('\n') || log === '' ? log + '=============' : `${log}\n=============`);
  return out.join('\n');
}
