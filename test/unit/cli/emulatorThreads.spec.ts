import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { emulatorThreads } from '../../../cli/session.ts';

describe('emulatorThreads (KPTR_EMULATOR_THREADS)', () => {
  it('should leave one CPU to the main thread by default (at most two threads), and take a count from the variable', () => {
    expect(emulatorThreads({})).toBe(Math.min(2, availableParallelism() - 1));
    expect(emulatorThreads({ KPTR_EMULATOR_THREADS: '0' })).toBe(0);
    expect(emulatorThreads({ KPTR_EMULATOR_THREADS: '3' })).toBe(3);
  });

  it('should refuse what is not a whole number of threads', () => {
    for (const bad of ['-1', '1.5', 'two']) {
      expect(() => emulatorThreads({ KPTR_EMULATOR_THREADS: bad })).toThrow(/KPTR_EMULATOR_THREADS must be a whole number/);
    }
  });
});
