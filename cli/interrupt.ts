import { EXIT } from '../errors/exitCodes.ts';
import { Interrupted, type StopSignal } from '../errors/interrupted.ts';

/** SIGINT / SIGTERM during a command: the first stops the work and lets it write what it has, a second exits at once. */
export interface InterruptHandler {
  /** aborted by the first signal, with an Interrupted error as its reason (runners cancel their children on it) */
  readonly signal: AbortSignal;
  /** the signal received, null while none came */
  received(): StopSignal | null;
  /** removes the handlers (the default action, dying, applies again) */
  dispose(): void;
}

export interface InterruptOptions {
  readonly stderr: { write(s: string): unknown };
  /** called on the second signal; process.exit (execa's cleanup then kills any child still running) */
  readonly exit: (code: number) => void;
  /** what the first signal's line says is being written */
  readonly writing: string;
}

/**
 * Installs the handlers. The first signal aborts `signal` and prints one line; a second one (Ctrl-C again) prints
 * one line and exits with 128 + the signal's number, without writing more.
 */
export function handleInterrupts(o: InterruptOptions): InterruptHandler {
  const controller = new AbortController();
  let got: StopSignal | null = null;
  const on = (sig: StopSignal) => (): void => {
    if (got !== null) {
      o.stderr.write(`kptr-conform: ${sig} again: stopping at once; files being written may be incomplete\n`);
      o.exit(EXIT[sig]);
      return;
    }
    got = sig;
    o.stderr.write(`kptr-conform: ${sig}: stopping; writing ${o.writing} (Ctrl-C again to stop at once)\n`);
    controller.abort(new Interrupted(sig));
  };
  const handlers = { SIGINT: on('SIGINT'), SIGTERM: on('SIGTERM') } as const;
  process.on('SIGINT', handlers.SIGINT);
  process.on('SIGTERM', handlers.SIGTERM);
  return {
    signal: controller.signal,
    received: () => got,
    dispose() {
      process.off('SIGINT', handlers.SIGINT);
      process.off('SIGTERM', handlers.SIGTERM);
    },
  };
}
