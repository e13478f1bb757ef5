import { describe, expect, it } from 'vitest';
import { runStoppable } from '../../../cli/stoppable.ts';
import type { Finished, Outputs } from '../../../cli/outputs.ts';

/** Outputs that write nothing: runStoppable's signal handling is what is under test. */
const outputs = (): Outputs => ({ finish: async (): Promise<Finished> => ({ summaries: [], notWritten: [] }) }) as unknown as Outputs;

describe('runStoppable', () => {
  it('should remove its signal handlers when the work ran to its end', async () => {
    const before = process.listenerCount('SIGINT');
    const r = await runStoppable('nothing', outputs, async () => {});
    expect(r.received).toBeNull();
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('should keep them after a signal stopped the work, so a late second Ctrl-C still exits 130 and does not kill the process', async () => {
    const before = process.listenerCount('SIGINT');
    const installed = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
    const exit = process.exit;
    const exits: (number | undefined)[] = [];
    process.exit = ((code?: number) => { exits.push(code); }) as typeof process.exit;
    try {
      const r = await runStoppable('nothing', outputs, async (_o, run) => {
        process.emit('SIGINT', 'SIGINT');
        expect(run.signal.aborted).toBe(true);
      });
      expect(r.received).toBe('SIGINT');
      expect(process.listenerCount('SIGINT')).toBe(before + 1);
      process.emit('SIGINT', 'SIGINT');
      expect(exits).toEqual([130]);
    } finally {
      process.exit = exit;
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        for (const l of process.listeners(sig)) if (!installed[sig].includes(l)) process.off(sig, l);
      }
    }
  });
});
