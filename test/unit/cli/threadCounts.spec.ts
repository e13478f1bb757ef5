import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { emulatorThreads, predictThreads } from '../../../cli/session.ts';

describe('emulatorThreads (KPTR_EMULATOR_THREADS)', () => {
  it('should leave two CPUs to the main thread and V8 by default (at most two threads), and take a count from the variable', () => {
    expect(emulatorThreads({})).toBe(Math.min(2, Math.max(0, availableParallelism() - 2)));
    expect(emulatorThreads({ KPTR_EMULATOR_THREADS: '0' })).toBe(0);
    expect(emulatorThreads({ KPTR_EMULATOR_THREADS: '3' })).toBe(3);
  });

  it('should refuse what is not a whole number of threads', () => {
    for (const bad of ['-1', '1.5', 'two']) {
      expect(() => emulatorThreads({ KPTR_EMULATOR_THREADS: bad })).toThrow(/KPTR_EMULATOR_THREADS must be a whole number/);
    }
  });
});

describe('predictThreads (KPTR_PREDICT_THREADS)', () => {
  it('should predict in the main thread by default, and take a count from the variable', () => {
    expect(predictThreads({})).toBe(0);
    expect(predictThreads({ KPTR_PREDICT_THREADS: '' })).toBe(0);
    expect(predictThreads({ KPTR_PREDICT_THREADS: '2' })).toBe(2);
    expect(() => predictThreads({ KPTR_PREDICT_THREADS: 'x' })).toThrow(/KPTR_PREDICT_THREADS must be a whole number/);
  });
});
