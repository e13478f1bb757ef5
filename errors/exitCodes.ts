/**
 * The process exit codes, one home for each. An interrupted run exits as a shell reports a process killed by the
 * signal (128 + signal number), as `vmtest.sh` and test_progs' wrappers read it: "stopped", not "passed" or "failed".
 */
export const EXIT = {
  /** every case as predicted (known divergences included) */
  ok: 0,
  /** unexplained mismatches */
  mismatch: 1,
  /** usage or environment error, one line saying what to do */
  usage: 2,
  /** stopped by SIGINT (Ctrl-C) after writing what it had */
  SIGINT: 130,
  /** stopped by SIGTERM after writing what it had */
  SIGTERM: 143,
} as const;
