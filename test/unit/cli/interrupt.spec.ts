import { afterEach, describe, expect, it } from 'vitest';
import { Interrupted } from '../../../errors/interrupted.ts';
import { handleInterrupts, type InterruptHandler } from '../../../cli/interrupt.ts';

let handler: InterruptHandler | null = null;
afterEach(() => {
  handler?.dispose();
  handler = null;
});

/** Handlers whose output and exit calls are recorded (process.emit delivers a signal to listeners without sending it). */
function install(): { lines: string[]; exits: number[] } {
  const lines: string[] = [];
  const exits: number[] = [];
  handler = handleInterrupts({ stderr: { write: (s: string) => lines.push(s) }, exit: (code) => exits.push(code), writing: 'the summary' });
  return { lines, exits };
}

describe('handleInterrupts', () => {
  it('should abort with Interrupted on the first SIGINT, say what it writes, and not exit', () => {
    const { lines, exits } = install();
    process.emit('SIGINT', 'SIGINT');
    expect(handler!.signal.aborted).toBe(true);
    expect(handler!.signal.reason).toBeInstanceOf(Interrupted);
    expect((handler!.signal.reason as Interrupted).signal).toBe('SIGINT');
    expect(handler!.received()).toBe('SIGINT');
    expect(exits).toEqual([]);
    expect(lines.join('')).toMatch(/^kptr-conform: SIGINT: stopping; writing the summary \(Ctrl-C again to stop at once\)\n$/);
  });

  it('should exit at once with 130 on a second SIGINT, and with 143 on a second SIGTERM', () => {
    const first = install();
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGINT', 'SIGINT');
    expect(first.exits).toEqual([130]);
    handler!.dispose();
    const second = install();
    process.emit('SIGTERM', 'SIGTERM');
    expect(second.exits).toEqual([]);
    process.emit('SIGTERM', 'SIGTERM');
    expect(second.exits).toEqual([143]);
    expect(handler!.received()).toBe('SIGTERM');
  });

  it('should leave the signals alone once disposed', () => {
    install();
    handler!.dispose();
    const before = process.listenerCount('SIGINT');
    install();
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    handler!.dispose();
    expect(process.listenerCount('SIGINT')).toBe(before);
  });
});
