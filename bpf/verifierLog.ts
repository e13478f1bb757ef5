/**
 * The verifier log as the kernel writes it at log_level 1: the instruction trace, the error, then statistics. Kernels
 * from 7.x put a report between the error and the statistics (`Verification failed: <class>`, then Reason, At,
 * Causal path, Suggestion), whose lines are about the error but are not the kernel's error line.
 */

/** Statistics after the error: never the error itself. */
export const STATISTICS = [/^processed \d+ insns/, /^verification time /, /^stack depth /];

/** The first line of a 7.x report. */
const REPORT = /^Verification failed: /;

const isStatistics = (line: string): boolean => STATISTICS.some((re) => re.test(line));

/** The log's non-empty lines (end-trimmed) without statistics. */
export function logLines(log: string): string[] {
  return log.split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0 && !isStatistics(l));
}

/** logLines up to the error: a 7.x report after it left out. */
export function linesToError(log: string): string[] {
  return upToReport(logLines(log));
}

/** the log's lines (logLines) up to the error: a 7.x report after it left out */
export function upToReport(lines: string[]): string[] {
  const report = lines.findIndex((l) => REPORT.test(l));
  return report < 0 ? lines : lines.slice(0, report);
}
