import { describe, expect, it } from 'vitest';
import { insnAt } from '../../../../bpf/asm/insn.ts';
import { loadObject, Machine, type MachineOptions, type RunResult } from '../../../../emulator/index.ts';
import { writeObject } from '../../../../compile/object/writeObject.ts';
import type { Op, Program, Scenario, Slot } from '../../../../types/index.ts';

/** A one-slot scenario (struct t { long a, c; } in a 1-entry array map) with the given tc programs. */
function scenario(programs: Record<string, Op[]>, slot: Partial<Slot> = {}): Scenario {
  const vars: Program['vars'] = [
    { name: 'e', type: { kind: 'map_value', slot: 's' } },
    { name: 'p', type: { kind: 'percpu', struct: 't' } },
    { name: 'q', type: { kind: 'percpu', struct: 't' } },
    { name: 'v', type: { kind: 'plain', struct: 't' } },
  ];
  return {
    id: 'm',
    description: 'machine unit test',
    origin: null,
    intent: { kind: 'valid' },
    structs: [{ name: 't', members: [{ kind: 'scalar', name: 'a', ctype: 'long', count: null }, { kind: 'scalar', name: 'c', ctype: 'long', count: null }] }],
    slots: [{ name: 's', home: { kind: 'map', mapType: 'array' }, pointee: 't', tag: 'percpu_kptr', ...slot }],
    globals: [{ name: 'g', ctype: 'long' }, { name: 'h', ctype: '__u32' }],
    programs: Object.entries(programs).map(([name, ops]) => ({ name, progType: 'tc', license: 'GPL', vars, ops: [{ op: 'lookup', slot: 's', dst: 'e' }, ...ops] })),
    schedule: [],
  };
}

function machine(s: Scenario, options: Partial<MachineOptions> = {}): Machine {
  const nrCpus = options.nrCpus ?? 2;
  return Machine.load(loadObject(writeObject([s]), { rodata: { nr_cpus: nrCpus } }), { nrCpus, ...options });
}

const ok = (r: RunResult): number => {
  if (r.outcome !== 'exit') throw new Error(`expected an exit, got ${JSON.stringify(r)}`);
  return r.retval;
};

const newInSlot: Op[] = [
  { op: 'new', dst: 'p', struct: 't', percpu: true },
  { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 1 }] },
  { op: 'xchg', slot: 's', src: 'p', dst: 'p' },
  { op: 'if', var: 'p', is: 'nonnull', then: [{ op: 'drop', var: 'p', percpu: true }] },
];
const loadSlot: Op[] = [{ op: 'load', slot: 's', dst: 'p' }, { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 2 }] }];

describe('Machine', () => {
  it('should keep one copy per CPU: this_cpu_ptr writes the running CPU\'s copy, per_cpu_ptr reads any, and is NULL past nr_cpus', () => {
    const m = machine(scenario({
      store: newInSlot,
      write: [...loadSlot, { op: 'this_cpu_ptr', src: 'p', dst: 'v' }, { op: 'write', ptr: 'v', field: 'c', value: '5' }],
      sum: [...loadSlot, { op: 'sum', src: 'p', field: 'c', global: 'g' }],
      cpu0: [...loadSlot, { op: 'per_cpu_ptr', src: 'p', cpu: 0, dst: 'v' }, { op: 'if', var: 'v', is: 'null', then: [{ op: 'return', value: 3 }] }, { op: 'read', ptr: 'v', field: 'c', global: 'h' }],
      past: [...loadSlot, { op: 'per_cpu_ptr', src: 'p', cpu: 2, dst: 'v' }, { op: 'if', var: 'v', is: 'null', then: [{ op: 'return', value: 9 }] }],
    }));
    expect(ok(m.run('store', 0))).toBe(0);
    expect(ok(m.run('write', 1))).toBe(0);
    expect(ok(m.run('sum', 0))).toBe(0);
    expect(ok(m.run('cpu0', 1))).toBe(0);
    expect(m.globals(['g', 'h'])).toEqual({ g: '5', h: '0' });
    expect(ok(m.run('write', 0))).toBe(0);
    expect(ok(m.run('sum', 1))).toBe(0);
    expect(m.globals(['g'])).toEqual({ g: '15' });
    expect(ok(m.run('past', 0))).toBe(9);
  });

  it('should keep a dropped object readable for the rest of the run (RCU) and fault on it after the grace period', () => {
    const m = machine(scenario({
      // keeps a copy of the handle in the slot (a plain store the verifier refuses; the machine runs what it is given)
      stale: [
        { op: 'new', dst: 'p', struct: 't', percpu: true },
        { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 1 }] },
        { op: 'per_cpu_ptr', src: 'p', cpu: 0, dst: 'v' },
        { op: 'if', var: 'v', is: 'null', then: [{ op: 'return', value: 1 }] },
        { op: 'write', ptr: 'v', field: 'c', value: '7' },
        { op: 'store', slot: 's', src: 'p' },
        { op: 'drop', var: 'p', percpu: true },
        { op: 'read', ptr: 'v', field: 'c', global: 'g' },
      ],
      use: [...loadSlot, { op: 'per_cpu_ptr', src: 'p', cpu: 0, dst: 'v' }],
    }));
    expect(ok(m.run('stale', 0))).toBe(0);
    expect(m.globals(['g'])).toEqual({ g: '7' });
    const r = m.run('use', 0);
    expect(r.outcome).toBe('fault');
    if (r.outcome === 'fault') {
      expect(r.oops.why).toMatch(/^bpf_per_cpu_ptr: use after free of per-CPU object #0 \(struct t\) handle/);
      expect(r.oops).toMatchObject({ program: 'use', cpu: 0 });
      expect(r.oops.address).toMatch(/^0xff[0-9a-f]{6}00000000$/);
    }
  });

  it('should report a NULL dereference as an Oops with the instruction and address, not an exception', () => {
    const m = machine(scenario({ null: [{ op: 'write', ptr: 'v', field: 'c', value: '1' }] }));
    const r = m.run('null', 0);
    expect(r).toMatchObject({ outcome: 'fault', oops: { program: 'null', why: 'NULL pointer dereference', address: '0x0000000000000008' } });
    if (r.outcome === 'fault') expect(insnAt(m.object.programs[0]!.words, r.oops.insn).code).toBe(0x7b); // the stx of the write
  });

  it('should fault on a double drop', () => {
    const m = machine(scenario({
      twice: [{ op: 'new', dst: 'p', struct: 't', percpu: true }, { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 1 }] }, { op: 'drop', var: 'p', percpu: true }, { op: 'drop', var: 'p', percpu: true }],
    }));
    expect(m.run('twice', 0)).toMatchObject({ outcome: 'fault', oops: { why: expect.stringMatching(/already freed \(double free\)$/) } });
  });

  it('should free a plain object given to bpf_percpu_obj_drop_impl and run on, as 6.18 does (divergence plain_obj_into_percpu)', () => {
    // 6.18 lets a plain object into a __percpu_kptr field, so a program may drop it as per-CPU: the kernel frees it
    // through the per-CPU allocator (a WARN in __free_by_rcu later, once per boot) and the program goes on
    const m = machine(scenario({
      wrong: [{ op: 'new', dst: 'v', struct: 't', percpu: false }, { op: 'if', var: 'v', is: 'null', then: [{ op: 'return', value: 1 }] }, { op: 'drop', var: 'v', percpu: true }],
    }));
    expect(ok(m.run('wrong', 0))).toBe(0);
    expect(m.liveObjects()).toBe(0);
  });

  it('should free the kptr a map holds when the map is freed', () => {
    const m = machine(scenario({ store: newInSlot }));
    expect(ok(m.run('store', 0))).toBe(0);
    expect(ok(m.run('store', 1))).toBe(0); // the second object replaces the first, which the program drops
    expect(m.liveObjects()).toBe(1);
    m.free();
    expect(m.liveObjects()).toBe(0);
  });

  it('should hand out freed per-CPU memory zeroed or, as kernels >= 6.7 do, reused uncleared after a grace period', () => {
    const programs = {
      dirty: [
        { op: 'new', dst: 'p', struct: 't', percpu: true },
        { op: 'if', var: 'p', is: 'null', then: [{ op: 'return', value: 1 }] },
        { op: 'this_cpu_ptr', src: 'p', dst: 'v' },
        { op: 'write', ptr: 'v', field: 'c', value: '21' },
        { op: 'drop', var: 'p', percpu: true },
      ],
      fresh: [
        { op: 'new', dst: 'q', struct: 't', percpu: true },
        { op: 'if', var: 'q', is: 'null', then: [{ op: 'return', value: 1 }] },
        { op: 'this_cpu_ptr', src: 'q', dst: 'v' },
        { op: 'read', ptr: 'v', field: 'c', global: 'g' },
        { op: 'drop', var: 'q', percpu: true },
      ],
    } satisfies Record<string, Op[]>;
    const both = { ...programs, dirtyThenFresh: [...programs.dirty, ...programs.fresh] };
    const read = (freedMemory: 'zeroed' | 'reused-uncleared', steps: [string, number][]): string | null => {
      const m = machine(scenario(both), { freedMemory });
      for (const [p, cpu] of steps) expect(ok(m.run(p, cpu))).toBe(0);
      return m.globals(['g']).g ?? null;
    };
    expect(read('zeroed', [['dirty', 0], ['fresh', 0]])).toBe('0');
    expect(read('reused-uncleared', [['dirty', 0], ['fresh', 0]])).toBe('21');
    // another CPU's cache, or within the same grace period: nothing to reuse yet
    expect(read('reused-uncleared', [['dirty', 0], ['fresh', 1]])).toBe('0');
    expect(read('reused-uncleared', [['dirtyThenFresh', 0]])).toBe('0');
  });

  it('should refuse an unknown program or CPU as the caller\'s mistake', () => {
    const m = machine(scenario({ store: newInSlot }));
    expect(() => m.run('nope', 0)).toThrow(/no program nope/);
    expect(() => m.run('store', 2)).toThrow(/cpu 2 does not exist \(nr_cpus=2\)/);
  });
});
