import { describe, expect, it } from 'vitest';
import { dropAsPredicted, reductionCandidates, withoutPrograms } from '../../../reports/dropAsPredicted.ts';
import type { Scenario } from '../../../types/index.ts';
import { scenario as fixture } from './fixtures/cases.ts';
import { isRunStep } from '../../../types/index.ts';

/** rp1: two valid programs run in two schedule steps, and a leak. */
const withLeak: Scenario = fixture;

describe('withoutPrograms', () => {
  it('should drop the programs, their schedule steps and the globals no remaining program writes', () => {
    const s = withoutPrograms(withLeak, new Set(['rp1_store', 'rp1_sum_it']));
    expect(s.programs.map((p) => p.name)).toEqual(['rp1_leak']);
    expect(s.schedule).toEqual([]);
    expect(s.globals).toEqual([]);
    // what is left is untouched
    expect(s.structs).toEqual(withLeak.structs);
  });
});

describe('withoutPrograms and concurrent steps', () => {
  it('should turn a concurrent step whose other program goes into a plain run of the one left', () => {
    const s: Scenario = { ...withLeak, schedule: [{ concurrent: [{ program: 'rp1_store', cpu: 0, repeat: 1 }, { program: 'rp1_sum_it', cpu: 1, repeat: 1 }] }] };
    expect(withoutPrograms(s, new Set(['rp1_store'])).schedule).toEqual([{ program: 'rp1_sum_it', cpu: 1, repeat: 1 }]);
    expect(withoutPrograms(s, new Set(['rp1_leak'])).schedule).toEqual(s.schedule);
    expect(withoutPrograms(s, new Set(['rp1_store', 'rp1_sum_it'])).schedule).toEqual([]);
  });
});

describe('reductionCandidates', () => {
  it('should try every program that shows nothing of the bug at once, then each alone, then each step', () => {
    const c = reductionCandidates(withLeak, new Set(['rp1_leak']));
    expect(c.map((s) => [s.programs.map((p) => p.name), s.schedule.length])).toEqual([
      [['rp1_leak'], 0],
      [['rp1_sum_it', 'rp1_leak'], 1],
      [['rp1_store', 'rp1_leak'], 1],
      [['rp1_store', 'rp1_sum_it', 'rp1_leak'], 1],
      [['rp1_store', 'rp1_sum_it', 'rp1_leak'], 1],
    ]);
  });

  it('should have nothing to try for one program that shows the bug and no schedule', () => {
    expect(reductionCandidates(withoutPrograms(withLeak, new Set(['rp1_store', 'rp1_sum_it'])), new Set(['rp1_leak']))).toEqual([]);
  });
});

describe('dropAsPredicted', () => {
  it('should shrink a scenario with one mismatching program and as-predicted ones to the mismatching one', async () => {
    // a kernel that shows the bug whenever rp1_leak is there
    const check = async (cs: readonly Scenario[]) => cs.map((s) => (s.programs.some((p) => p.name === 'rp1_leak') ? new Set(['rp1_leak']) : null));
    const r = await dropAsPredicted(withLeak, new Set(['rp1_leak']), check, { maxRounds: 10 });
    expect(r.scenario.programs.map((p) => p.name)).toEqual(['rp1_leak']);
    expect(r).toMatchObject({ dropped: 1, rounds: 1, interrupted: false });
  });

  it('should keep a program the bug needs (history), dropping the rest one at a time', async () => {
    // the value bug of rp1_sum_it shows only after rp1_store ran
    const check = async (cs: readonly Scenario[]) => cs.map((s) => {
      const steps = s.schedule.map((x) => (isRunStep(x) ? x.program : null));
      return steps.includes('rp1_store') && steps.includes('rp1_sum_it') ? new Set(['rp1_sum_it']) : null;
    });
    const r = await dropAsPredicted(withLeak, new Set(['rp1_sum_it']), check, { maxRounds: 10 });
    expect(r.scenario.programs.map((p) => p.name)).toEqual(['rp1_store', 'rp1_sum_it']);
    expect(r.scenario.schedule.map((x) => (isRunStep(x) ? x.program : null))).toEqual(['rp1_store', 'rp1_sum_it']);
  });

  it('should stop at maxRounds and when stopped, keeping the last scenario known to show the bug', async () => {
    const stop = new AbortController();
    const check = async (cs: readonly Scenario[]) => {
      stop.abort();
      throw new Error('killed');
    };
    const r = await dropAsPredicted(withLeak, new Set(['rp1_leak']), check, { maxRounds: 10, signal: stop.signal });
    expect(r).toMatchObject({ scenario: withLeak, dropped: 0, interrupted: true });
    const none = await dropAsPredicted(withLeak, new Set(['rp1_leak']), async () => { throw new Error('never called'); }, { maxRounds: 0 });
    expect(none.scenario).toBe(withLeak);
  });
});
