/**
 * Typed decoding of the harness's JSON lines (runners/harnessEvents.ts): what a real harness printed decodes, and a
 * line from another protocol is one error naming the line and the field, not an event with fields missing.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeEvents, eventProblem } from '../../../runners/harnessEvents.ts';

/** recorded from the host's 6.18.44 harness: kernel, load (accepted, rejected), run, skip and done events */
const fixture = readFileSync(new URL('./host/fixtures/harness-6.18.44.jsonl', import.meta.url), 'utf8');

describe('decodeEvents', () => {
  it('should decode every line a real harness printed, in order', () => {
    const lines = fixture.split('\n').filter((l) => l.trim() !== '');
    const events = decodeEvents(fixture, 'fixture');
    expect(events).toHaveLength(lines.length);
    expect(events.map((e) => e.ev)).toEqual(lines.map((l) => (JSON.parse(l) as { ev: string }).ev));
    expect(new Set(events.map((e) => e.ev))).toEqual(new Set(['kernel', 'load', 'run', 'skip', 'done']));
  });

  it('should drop a torn line (a killed harness) and keep the others', () => {
    const text = '{"ev":"kernel","release":"6.18.44","nr_cpus":2}\n{"ev":"load","prog":"p0","verd';
    expect(decodeEvents(text, 'torn')).toEqual([{ ev: 'kernel', release: '6.18.44', nr_cpus: 2 }]);
  });

  it('should refuse a JSON line that is not an event of this protocol, naming the line and the field', () => {
    const stale = '{"ev":"kernel","release":"6.18.44","nr_cpus":2}\n{"ev":"run","scenario":"s","prog":"p","cpu":0,"iter":0,"err":null,"retval":0,"globals":{}}\n';
    expect(() => decodeEvents(stale, 'batch-1.jsonl')).toThrow(expect.objectContaining({
      code: 'KPTR_HARNESS_PROTOCOL',
      message: 'batch-1.jsonl line 2: not an event of this harness protocol: run: ns is missing, expected a number',
    }));
    expect(() => decodeEvents('{"ev":"verdict","prog":"p"}', 'out')).toThrow(/line 1: not an event of this harness protocol: unknown event "verdict"/);
    expect(() => decodeEvents('[1,2]', 'out')).toThrow(/not a JSON object/);
  });
});

describe('eventProblem', () => {
  it('should want a rejected load\'s errno and log, and no more of an accepted one', () => {
    expect(eventProblem({ ev: 'load', prog: 'p', verdict: 'accepted', ns: 1 })).toBeNull();
    expect(eventProblem({ ev: 'load', prog: 'p', verdict: 'rejected', ns: 1, stage: 'verifier', errno: 13, errno_name: 'EACCES' }))
      .toBe('load: log is missing, expected a string');
    expect(eventProblem({ ev: 'load', prog: 'p', verdict: 'rejected', ns: 1, stage: 'kernel', errno: 13, errno_name: 'EACCES', log: '' }))
      .toBe("load: stage is \"kernel\", expected 'verifier' or 'libbpf' or 'map_create'");
  });

  it('should check nested values: globals, map operation copies, optional fields', () => {
    const run = { ev: 'run', scenario: 's', prog: 'p', cpu: 0, iter: 0, err: null, retval: null, ns: 5, globals: { g: '1', h: null } };
    expect(eventProblem(run)).toBeNull();
    expect(eventProblem({ ...run, step: 2 })).toBeNull();
    expect(eventProblem({ ...run, globals: { g: 1 } })).toBe('run: globals is {"g":1}, expected an object, each value null or a string');
    const mapop = { ev: 'mapop', scenario: 's', step: 1, op: 'lookup', err: null, value: [['0', '5']] };
    expect(eventProblem(mapop)).toBeNull();
    expect(eventProblem({ ...mapop, value: [[0]] })).toBe('mapop: value is [[0]], expected null or an array, each element an array, each element a string');
    expect(eventProblem({ ev: 'done' })).toBeNull();
  });
});
