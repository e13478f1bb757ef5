import { describe, expect, it } from 'vitest';
import { checkScenarioRefs, parseScenario } from '../../../specs/scenarioSchema.ts';
import { loadSpec } from '../../../specs/load.ts';
import { MAP_OP_KINDS } from '../../../specs/vocabulary.ts';
import { mapOpsScenario } from '../../kernel/scenarios.ts';

const base = mapOpsScenario('s', 'hash');
const withStep = (step: unknown) => ({ ...base, schedule: [step] });
const refused = (step: unknown): string => {
  try {
    parseScenario(withStep(step), 'x.yaml');
  } catch (e) {
    return (e as Error).message;
  }
  return 'accepted';
};

describe('scenario schema: userspace map operation steps', () => {
  it('should accept every operation with its own keys', () => {
    expect(parseScenario(base, 'x.yaml')).toEqual(base);
    expect(refused({ mapOp: 'update', slot: 's_m', key: 0, flags: 'BPF_NOEXIST', sum: '-9223372036854775808' })).toBe('accepted');
    for (const mapOp of ['delete', 'lookup', 'lookup_and_delete']) expect(refused({ mapOp, slot: 's_m', key: 2147483647 })).toBe('accepted');
    expect(refused({ mapOp: 'update_batch', slot: 's_m', keys: [0, 1, 0], flags: 'BPF_EXIST', sum: '5' })).toBe('accepted');
    expect(refused({ mapOp: 'delete_batch', slot: 's_m', keys: [] })).toBe('accepted');
    for (const mapOp of ['lookup_batch', 'lookup_and_delete_batch']) expect(refused({ mapOp, slot: 's_m', count: 8 })).toBe('accepted');
  });

  it('should bound a batch: at most 8 keys, a count in [0, 8], and no single key', () => {
    expect(refused({ mapOp: 'delete_batch', slot: 's_m', keys: [0, 0, 0, 0, 0, 0, 0, 0, 0] })).toMatch(/^x\.yaml: schedule\[0\]\.keys: /);
    expect(refused({ mapOp: 'delete_batch', slot: 's_m', keys: [-1] })).toMatch(/^x\.yaml: schedule\[0\]\.keys\[0\]: /);
    expect(refused({ mapOp: 'lookup_batch', slot: 's_m', count: 9 })).toMatch(/^x\.yaml: schedule\[0\]\.count: /);
    expect(refused({ mapOp: 'lookup_batch', slot: 's_m', key: 0 })).not.toBe('accepted');
    expect(refused({ mapOp: 'update_batch', slot: 's_m', keys: [0], sum: '1' })).toMatch(/^x\.yaml: schedule\[0\]\.flags: /);
  });

  it('should refuse, in one line naming the key, what is out of bounds or unknown', () => {
    expect(refused({ mapOp: 'update', slot: 's_m', key: 0, flags: 'BPF_F_LOCK', sum: '1' })).toBe('x.yaml: schedule[0].flags: expected one of BPF_ANY, BPF_NOEXIST, BPF_EXIST, got string "BPF_F_LOCK"');
    expect(refused({ mapOp: 'update', slot: 's_m', key: 0, flags: 'BPF_ANY' })).toMatch(/^x\.yaml: schedule\[0\]\.sum: expected /);
    expect(refused({ mapOp: 'delete', slot: 's_m', key: 0, sum: '1' })).toMatch(/^x\.yaml: schedule\[0\]\.sum: expected no such key/);
    expect(refused({ mapOp: 'lookup', slot: 's_m', key: 2147483648 })).toMatch(/^x\.yaml: schedule\[0\]\.key: expected an int key/);
    expect(refused({ mapOp: 'update', slot: 's_m', key: 0, flags: 'BPF_ANY', sum: '18446744073709551616' })).toMatch(/^x\.yaml: schedule\[0\]\.sum: /);
    expect(refused({ mapOp: 'pop', slot: 's_m', key: 0 })).toBe(`x.yaml: schedule[0].mapOp: expected one of ${MAP_OP_KINDS.join(', ')}, got string "pop"`);
    expect(refused({ mapOp: 'lookup', slot: 'bpf_x', key: 0 })).toMatch(/^x\.yaml: schedule\[0\]\.slot: /);
  });

  it('should refuse a map operation on a slot that is not kept in a map', () => {
    const global = { ...base, slots: [{ ...base.slots[0]!, home: { kind: 'global' as const, section: 'bss' as const } }] };
    expect(checkScenarioRefs(global)).toContain("schedule[2].slot: no slot 's_m' kept in a map");
    expect(checkScenarioRefs({ ...base, schedule: [{ mapOp: 'lookup', slot: 'nope', key: 0 }] })).toEqual(["schedule[0].slot: no slot 'nope' kept in a map"]);
  });

  it('should load one contract per map operation from specs/ops/map', () => {
    expect(loadSpec().mapOps.map((c) => c.mapOp)).toEqual([...MAP_OP_KINDS]);
  });
});
