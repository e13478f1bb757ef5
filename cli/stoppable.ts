import { KptrError } from '../errors/KptrError.ts';
import { Interrupted, type StopSignal } from '../errors/interrupted.ts';
import { EXIT } from '../errors/exitCodes.ts';
import { handleInterrupts } from './interrupt.ts';
import { notWrittenError, type Finished, type Outputs } from './outputs.ts';

/**
 * How a command stops: one signal for the runners, aborted by SIGINT / SIGTERM, by a write that failed, or by a
 * child that saw the terminal's Ctrl-C before the tool did (stop(Interrupted)); the first reason wins.
 */
export interface Stop {
  readonly signal: AbortSignal;
  stop(reason: unknown): void;
}

export interface Stopped {
  readonly done: Finished;
  /** the signal that stopped the work, null when it ran to its end */
  readonly received: StopSignal | null;
}

/**
 * Runs a command's work so that nothing computed is lost: the first SIGINT / SIGTERM (or a failed write) aborts
 * `run.signal`, the work returns or throws, and the outputs are finished either way (Summary.stopped says why).
 * Throws the work's error, or the one naming outputs not written; returns what was written and the signal received.
 */
export async function runStoppable(
  writing: string,
  open: (onFailure: (e: unknown) => void) => Outputs,
  work: (outputs: Outputs, run: Stop) => Promise<void>,
): Promise<Stopped> {
  const interrupt = handleInterrupts({ stderr: process.stderr, exit: (code) => process.exit(code), writing });
  const halt = new AbortController();
  const run: Stop = { signal: halt.signal, stop: (reason) => { if (!halt.signal.aborted) halt.abort(reason); } };
  interrupt.signal.addEventListener('abort', () => run.stop(interrupt.signal.reason), { once: true });
  const outputs = open(run.stop);
  let failure: unknown = null;
  try {
    await work(outputs, run);
    if (run.signal.aborted && !(run.signal.reason instanceof Interrupted)) failure = run.signal.reason;
  } catch (e) {
    if (e instanceof Interrupted) run.stop(e);
    else failure = e;
  }
  const received = run.signal.reason instanceof Interrupted ? run.signal.reason.signal : null;
  const stopped = received ?? (failure instanceof KptrError ? failure.code : failure === null ? null : 'error');
  let done: Finished;
  try {
    done = await outputs.finish(stopped);
  } finally {
    // once a signal came the process exits with its code: a second one, however late, must still exit 130 / 143
    // rather than find the default action (death by the signal, no exit code)
    if (interrupt.received() === null) interrupt.dispose();
  }
  const unwritten = notWrittenError(done, failure);
  if (unwritten) throw unwritten;
  if (failure !== null) throw failure;
  return { done, received };
}

/** The line and exit code of a command a signal stopped (130 / 143), once its outputs are written. */
export function stoppedBy(received: StopSignal, done: Finished, outDir: string, rerun = ''): number {
  const cases = done.summaries.reduce((n, x) => n + x.cases, 0);
  process.stderr.write(`kptr-conform: stopped by ${received} after ${cases} cases; wrote ${outDir}${rerun}\n`);
  return EXIT[received];
}
