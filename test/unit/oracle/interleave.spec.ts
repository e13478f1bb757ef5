import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../../specs/load.ts';
import { predict } from '../../../oracle/predict.ts';
import { enumerateChoices } from '../../../oracle/runtime/interleave.ts';
import type { Op, Scenario, ScheduleStep } from '../../../types/index.ts';
import { prog, scenario } from './fixtures/build.ts';

const spec = loadSpec();
const target = { version: '6.18.44', nrCpus: 2, divergences: [] };
const lookup: Op = { op: 'lookup', slot: 'array', dst: 'e' };
const retIfNull = (v: string): Op => ({ op: 'if', var: v, is: 'null', then: [{ op: 'return', value: 0 }] });

/**
 * A new object swapped into the slot, then its field b on CPU 0 written through the pointer the xchg left
 * (non-owning); returns 1 when the slot held an object (dropped), else 0.
 */
function swapIn(b: string): Op[] {
  return [
    lookup, { op: 'new', dst: 'n', struct: 'val_t', percpu: true }, retIfNull('n'),
    { op: 'xchg', slot: 'array', src: 'n', dst: 'old' },
    { op: 'per_cpu_ptr', src: 'n', cpu: 0, dst: 'c' },
    { op: 'if', var: 'c', is: 'nonnull', then: [{ op: 'write', ptr: 'c', field: 'b', value: b }] },
    { op: 'if', var: 'old', is: 'nonnull', then: [{ op: 'drop', var: 'old', percpu: true }, { op: 'return', value: 1 }] },
  ];
}

/** the slot's object's field b on CPU 0 into `global` */
const readB: Op[] = [lookup, { op: 'load', slot: 'array', dst: 'p' }, { op: 'if', var: 'p', is: 'nonnull', then: [
  { op: 'per_cpu_ptr', src: 'p', cpu: 0, dst: 'v' },
  { op: 'if', var: 'v', is: 'nonnull', then: [{ op: 'read', ptr: 'v', field: 'b', global: 'b' }] },
] }];

describe('concurrent steps in the oracle', () => {
  it('enumerates every choice sequence depth first, and says when it stopped at the cap', () => {
    const walk = (choose: (n: number) => number): string => `${choose(2)}${choose(3)}`;
    expect(enumerateChoices(walk).results).toEqual(['00', '01', '02', '10', '11', '12']);
    expect(enumerateChoices(walk, 4)).toEqual({ results: ['00', '01', '02', '10'], complete: false });
  });

  it('two xchg of an empty slot: exactly one run gets the other\'s object, and the slot keeps the last one\'s', () => {
    const s = scenario([prog('a', 'tc', swapIn('1')), prog('b', 'tc', swapIn('2')), prog('read', 'tc', readB)], {
      globals: [{ name: 'b', ctype: 'long' }],
      schedule: [{ concurrent: [{ program: 'a', cpu: 0, repeat: 1 }, { program: 'b', cpu: 1, repeat: 1 }] }, { program: 'read', cpu: 0, repeat: 1 }],
    });
    const p = predict(s, target, spec);
    expect(p.programs.every((x) => x.verdict === 'accepted')).toBe(true);
    expect(p.outcomesComplete).toBe(true);
    const seen = (p.outcomes ?? []).map((x) => x.steps.map((st) => `${st.program}@${st.cpu ?? '-'}:${st.retval}/${st.globals.b}`).join(' '));
    // a first: b gets a's object and the slot keeps b's (b = 2); b first: the other way round
    expect(seen.sort()).toEqual(['a@0:0/0 b@1:1/0 read@-:0/2', 'a@0:1/0 b@1:0/0 read@-:0/1']);
    // the first outcome is the serial order, and it is also `steps`
    expect(p.steps.map((x) => x.retval)).toEqual([0, 1, 0]);
    expect(p.exercises).toContain('step concurrent');
  });

  it('two sums into one global may lose an addition (load, add, store), and a later step sees it', () => {
    const bump: Op[] = [lookup, { op: 'load', slot: 'array', dst: 'p' }, { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'this_cpu_ptr', src: 'p', dst: 'v' }, { op: 'write', ptr: 'v', field: 'c', value: '5' }] }];
    const sum: Op[] = [lookup, { op: 'load', slot: 'array', dst: 'p' }, { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'sum', src: 'p', field: 'c', global: 'total' }] }];
    const schedule: ScheduleStep[] = [
      { program: 'init', cpu: 0, repeat: 1 }, { program: 'bump', cpu: 0, repeat: 1 },
      { concurrent: [{ program: 'sum', cpu: 0, repeat: 1 }, { program: 'sum', cpu: 1, repeat: 1 }] },
      { program: 'sum', cpu: 0, repeat: 1 },
    ];
    const s: Scenario = scenario([prog('init', 'tc', swapIn('0')), prog('bump', 'tc', bump), prog('sum', 'tc', sum)], {
      globals: [{ name: 'total', ctype: '__u64' }], schedule,
    });
    const p = predict(s, target, spec);
    expect(p.outcomesComplete).toBe(true);
    expect([...new Set((p.outcomes ?? []).map((x) => x.steps.map((st) => st.globals.total).join(' ')))].sort()).toEqual(['0 0 10 10 15', '0 0 5 5 10']);
  });

  it('runs on per-CPU map copies share nothing: one outcome', () => {
    const s = scenario([prog('a', 'tc', swapIn('1')), prog('b', 'tc', swapIn('2'))], {
      slots: [{ name: 'array', home: { kind: 'map', mapType: 'percpu_array' }, pointee: 'val_t', tag: 'percpu_kptr' }],
      schedule: [{ concurrent: [{ program: 'a', cpu: 0, repeat: 1 }, { program: 'b', cpu: 1, repeat: 1 }] }],
    });
    expect(predict(s, target, spec).outcomes).toHaveLength(1);
  });
});
