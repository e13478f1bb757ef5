import { KptrError } from './KptrError.ts';

/** The signals that stop a run (and that a shell's Ctrl-C or `kill` sends). */
export type StopSignal = 'SIGINT' | 'SIGTERM';

/** The run was asked to stop: not a failure of the tool, and never a result of a case. */
export class Interrupted extends KptrError {
  constructor(readonly signal: StopSignal) {
    super('KPTR_INTERRUPTED', `interrupted by ${signal}`, 'rerun with the same --seed to see the cases not run');
  }
}

/** Why a run's work is being cancelled: the abort reason (Interrupted, or the error that stops the run, e.g. DiskFull). */
export function cancelReason(cancel: AbortSignal): Error {
  return cancel.reason instanceof Error ? cancel.reason : new Interrupted('SIGINT');
}

/**
 * The error to throw when a child process ended because the run is stopping: cancelled through `cancel`, or killed
 * by the terminal's Ctrl-C itself (children share the tool's process group, so they may see it first). Such an end
 * says nothing about the case it was running, and must never become an observation. null: it did not stop so.
 * @param r an execa result or error (`isCanceled`, `signal`)
 */
export function childStopped(r: { readonly isCanceled?: boolean; readonly signal?: string | undefined }, cancel?: AbortSignal): Error | null {
  if (cancel?.aborted) return cancelReason(cancel);
  if (r.isCanceled) return new Interrupted('SIGTERM');
  return r.signal === 'SIGINT' || r.signal === 'SIGTERM' ? new Interrupted(r.signal) : null;
}
