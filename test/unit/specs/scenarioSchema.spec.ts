import { describe, expect, it } from 'vitest';
import { checkScenarioRefs, parseScenario } from '../../../specs/scenarioSchema.ts';
import { errorOf } from '../../helpers/errorOf.ts';

/** A small valid scenario (the upstream publish + per_cpu_ptr + sum shape) as raw YAML-like data. */
function good(): any {
  return {
    id: 's1',
    description: 'publish, update CPU 0, sum',
    origin: { seed: 42, path: '3:1', index: 7 },
    intent: { kind: 'valid' },
    structs: [
      { name: 'inner', members: [{ kind: 'scalar', name: 'x', ctype: '__u32', count: null }] },
      {
        name: 'val_t',
        members: [
          { kind: 'scalar', name: 'c', ctype: 'long', count: null },
          { kind: 'scalar', name: 'arr', ctype: 'int', count: 4 },
          { kind: 'struct', name: 'in', struct: 'inner', count: 2 },
        ],
      },
    ],
    slots: [{ name: 'array', home: { kind: 'map', mapType: 'array' }, pointee: 'val_t', tag: 'percpu_kptr' }],
    globals: [{ name: 'total', ctype: '__u64' }],
    programs: [
      {
        name: 'p0',
        progType: 'tc',
        license: 'GPL',
        vars: [
          { name: 'e', type: { kind: 'map_value', slot: 'array' } },
          { name: 'p', type: { kind: 'percpu', struct: 'val_t' } },
          { name: 'v', type: { kind: 'plain', struct: 'val_t' } },
        ],
        ops: [
          { op: 'lookup', slot: 'array', dst: 'e' },
          { op: 'new', dst: 'p', struct: 'val_t', percpu: true },
          { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 0 }] },
          { op: 'xchg', slot: 'array', src: 'p', dst: 'p' },
          { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'drop', var: 'p', percpu: true }] },
          { op: 'load', slot: 'array', dst: 'p' },
          {
            op: 'if', var: 'p', is: 'nonnull', then: [
              { op: 'per_cpu_ptr', src: 'p', cpu: 1, dst: 'v' },
              { op: 'if', var: 'v', is: 'nonnull', then: [{ op: 'write', ptr: 'v', field: 'in[1].x', value: '7' }, { op: 'write', ptr: 'v', field: 'arr[3]', value: '-1' }] },
              { op: 'sum', src: 'p', field: 'c', global: 'total' },
            ],
          },
        ],
      },
    ],
    schedule: [{ program: 'p0', cpu: 0, repeat: 2 }],
  };
}

describe('parseScenario', () => {
  it('returns an equal, frozen value for a valid scenario', () => {
    const s = parseScenario(good(), 'test');
    expect(s).toEqual(good());
    expect(Object.isFrozen(s.programs[0]!.ops)).toBe(true);
  });

  it.each<[string, (raw: any) => void, string]>([
    ['a nested op field', (r) => { r.programs[0].ops[6].then[0].cpu = -1; }, 'programs[0].ops[6].then[0].cpu: expected a CPU number in [0, 4294967295] (a constant of the program), got number -1'],
    ['a missing field', (r) => { delete r.programs[0].ops[1].percpu; }, 'programs[0].ops[1].percpu: expected true or false, got nothing'],
    ['an unknown op', (r) => { r.programs[0].ops[0].op = 'peek'; }, 'programs[0].ops[0].op: expected one of lookup, new, if, xchg, drop, load, store, per_cpu_ptr, this_cpu_ptr, write, read, sum, rcu_lock, rcu_unlock, return, got string "peek"'],
    ['a key of another op', (r) => { r.programs[0].ops[0].cpu = 0; }, 'programs[0].ops[0].cpu: expected no such key (allowed: op, slot, dst), got number 0'],
    ['a non-identifier', (r) => { r.structs[1].name = 'val-t'; }, 'structs[1].name: expected a C identifier (not a keyword, nor a name the generated C or its headers define), got string "val-t"'],
    ['a C keyword', (r) => { r.programs[0].name = 'return'; }, 'programs[0].name: expected a C identifier (not a keyword, nor a name the generated C or its headers define), got string "return"'],
    ['a bad enum', (r) => { r.slots[0].home.mapType = 'ringbuf'; }, 'slots[0].home.mapType: expected one of array, hash, lru_hash, percpu_array, percpu_hash, lru_percpu_hash, got string "ringbuf"'],
    ['a number where a string is due', (r) => { r.programs[0].ops[6].then[1].then[0].value = 7; }, 'programs[0].ops[6].then[1].then[0].value: expected a decimal integer in [-2^63, 2^64-1] as a string, got number 7'],
    ['a bad field path', (r) => { r.programs[0].ops[6].then[2].field = 'c->d'; }, 'programs[0].ops[6].then[2].field: expected a field path like c, arr[2] or inner.x, got string "c->d"'],
    ['a rule on a valid intent', (r) => { r.intent.rule = 'ref.leak'; }, 'intent.rule: expected no such key (allowed: kind), got string "ref.leak"'],
    ['a list where a mapping is due', (r) => { r.origin = []; }, 'origin: expected null or a mapping with keys seed, path, index, got a list'],
    ['zero repeats', (r) => { r.schedule[0].repeat = 0; }, 'schedule[0].repeat: expected a repeat count in [1, 1000], got number 0'],
  ])('reports %s with its YAML path', (_what, mutate, message) => {
    const raw = good();
    mutate(raw);
    const e = errorOf(() => parseScenario(raw, 'case.yaml'));
    expect(e.code).toBe('KPTR_SCENARIO_INVALID');
    expect(e.message).toBe(`case.yaml: ${message}`);
  });

  it('reports a non-mapping root without a path', () => {
    expect(errorOf(() => parseScenario('x', 'gen')).message).toMatch(/^gen: expected a mapping with keys id, description, .*, got string "x"$/);
  });
});

describe('checkScenarioRefs', () => {
  it('finds nothing wrong with a consistent scenario', () => {
    expect(checkScenarioRefs(parseScenario(good(), 't'))).toEqual([]);
  });

  it.each<[string, (raw: any) => void, string]>([
    ['an undeclared variable', (r) => { r.programs[0].ops[4].then[0].var = 'q'; }, "programs[0].ops[4].then[0].var: variable 'q' is not declared in the program's vars"],
    ['an unknown slot', (r) => { r.programs[0].ops[3].slot = 'other'; }, "programs[0].ops[3].slot: no slot 'other'"],
    ['an unknown struct in new', (r) => { r.programs[0].ops[1].struct = 'nope'; }, "programs[0].ops[1].struct: no struct 'nope'"],
    ['an unknown global', (r) => { r.programs[0].ops[6].then[2].global = 'nope'; }, "programs[0].ops[6].then[2].global: no global 'nope'"],
    ['an unknown scheduled program', (r) => { r.schedule[0].program = 'p9'; }, "schedule[0].program: no program 'p9'"],
    ['a missing member', (r) => { r.programs[0].ops[6].then[2].field = 'z'; }, "programs[0].ops[6].then[2].field: 'z': struct 'val_t' has no member 'z'"],
    ['an array named whole', (r) => { r.programs[0].ops[6].then[1].then[1].field = 'arr'; }, "programs[0].ops[6].then[1].then[1].field: 'arr': member 'arr' of struct 'val_t' is an array, name one element"],
    ['an index out of bounds', (r) => { r.programs[0].ops[6].then[1].then[1].field = 'arr[4]'; }, "programs[0].ops[6].then[1].then[1].field: 'arr[4]': index 4 is out of bounds for 'arr[4]'"],
    ['a struct member as a scalar', (r) => { r.programs[0].ops[6].then[1].then[0].field = 'in[0]'; }, "programs[0].ops[6].then[1].then[0].field: 'in[0]': member 'in' of struct 'val_t' is a struct, not a scalar"],
    ['a map value field other than sum', (r) => { r.programs[0].ops[6].then[2] = { op: 'read', ptr: 'e', field: 'pc', global: 'total' }; }, "programs[0].ops[6].then[2].field: 'pc' is not a scalar member of the value of slot 'array' (only sum, of a map slot)"],
    ['a slot used before its lookup', (r) => { r.programs[0].ops.shift(); }, "programs[0].ops[2].slot: map slot 'array' is used before a lookup of it in this program"],
    ['a duplicate identifier across kinds', (r) => { r.globals.push({ name: 'p0', ctype: 'int' }); }, "programs[0].name: duplicate identifier 'p0' (first at globals[1].name)"],
    ['a duplicate struct', (r) => { r.structs.push({ name: 'inner', members: [] }); }, "structs[2].name: duplicate struct 'inner' (first at structs[0].name)"],
    ['a variable shadowing a slot', (r) => { r.programs[0].vars.push({ name: 'array', type: { kind: 'plain', struct: 'val_t' } }); }, "programs[0].vars[3].name: variable 'array' shadows a slot or global of the same name"],
    ['a lookup into a wrongly typed variable', (r) => { r.programs[0].ops[0].dst = 'v'; }, "programs[0].ops[0].dst: variable 'v' must have type map_value of slot 'array'"],
    ['a new into a variable of another struct', (r) => { r.programs[0].ops[1].dst = 'e'; }, "programs[0].ops[1].dst: variable 'e' must point to struct 'val_t'"],
    ['a self-containing struct', (r) => { r.structs[0].members.push({ kind: 'struct', name: 'self', struct: 'val_t', count: null }); }, "structs: struct 'inner' contains itself"],
    ['a clash with the map value struct', (r) => { r.structs.push({ name: 'array_elem', members: [] }); }, "slots[0].name: struct 'array_elem' clashes with the map value struct of slot 'array'"],
    ['concurrent runs on one CPU', (r) => { r.schedule.push({ concurrent: [{ program: 'p0', cpu: 1, repeat: 1 }, { program: 'p0', cpu: 1, repeat: 1 }] }); }, 'schedule[1].concurrent: both runs on cpu 1; concurrent runs need two CPUs'],
    ['a concurrent run of an unknown program', (r) => { r.schedule.push({ concurrent: [{ program: 'p0', cpu: 0, repeat: 1 }, { program: 'p9', cpu: 1, repeat: 1 }] }); }, "schedule[1].concurrent[1].program: no program 'p9'"],
    ['a concurrent run of a tracing program', (r) => { r.programs[0].progType = 'fentry'; r.schedule.push({ concurrent: [{ program: 'p0', cpu: 0, repeat: 1 }, { program: 'p0', cpu: 1, repeat: 1 }] }); }, "schedule[1].concurrent[0].program: 'p0' is fentry; concurrent runs are tc or syscall programs"],
  ])('reports %s', (_what, mutate, problem) => {
    const raw = good();
    mutate(raw);
    expect(checkScenarioRefs(parseScenario(raw, 't'))).toContain(problem);
  });

  it('admits two concurrent runs of one repeat each, and nothing else in a concurrent step', () => {
    const withRuns = (runs: unknown[]): unknown => {
      const raw = good();
      raw.schedule.push({ concurrent: runs });
      return raw;
    };
    expect(checkScenarioRefs(parseScenario(withRuns([{ program: 'p0', cpu: 0, repeat: 1 }, { program: 'p0', cpu: 1, repeat: 1 }]), 't'))).toEqual([]);
    expect(() => parseScenario(withRuns([{ program: 'p0', cpu: 0, repeat: 1 }, { program: 'p0', cpu: 1, repeat: 2 }]), 't')).toThrow(/concurrent/);
    expect(() => parseScenario(withRuns([{ program: 'p0', cpu: 0, repeat: 1 }]), 't')).toThrow(/concurrent/);
  });

  it('keeps a lookup inside an if from covering ops after it', () => {
    const raw = good();
    raw.programs[0].ops[0] = { op: 'if', var: 'p', is: 'null', then: [{ op: 'lookup', slot: 'array', dst: 'e' }] };
    expect(checkScenarioRefs(parseScenario(raw, 't'))).toContain("programs[0].ops[3].slot: map slot 'array' is used before a lookup of it in this program");
  });

  it('lets a global slot be used without a lookup', () => {
    const raw = good();
    raw.slots[0].home = { kind: 'global', section: 'bss' };
    raw.programs[0].ops.shift();
    expect(checkScenarioRefs(parseScenario(raw, 't'))).toEqual([]);
  });
});
