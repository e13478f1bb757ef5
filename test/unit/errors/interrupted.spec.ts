import { describe, expect, it } from 'vitest';
import { DiskFull } from '../../../errors/diskFull.ts';
import { childStopped, Interrupted } from '../../../errors/interrupted.ts';

describe('childStopped', () => {
  it('should give the run\'s own reason for a child cancelled with it', () => {
    const c = new AbortController();
    const full = new DiskFull('/out/junit.xml');
    c.abort(full);
    expect(childStopped({ isCanceled: true, signal: 'SIGTERM' }, c.signal)).toBe(full);
  });

  it('should take a child killed by the terminal\'s SIGINT or SIGTERM for a stop, before the tool saw it', () => {
    expect(childStopped({ signal: 'SIGINT' }, new AbortController().signal)).toEqual(new Interrupted('SIGINT'));
    expect((childStopped({ signal: 'SIGTERM' }) as Interrupted).signal).toBe('SIGTERM');
  });

  it('should leave any other end of a child to the caller (a crash, an Oops kill, a normal exit)', () => {
    for (const signal of ['SIGKILL', 'SIGSEGV', undefined]) expect(childStopped({ signal }, new AbortController().signal)).toBeNull();
  });
});
