import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Choices } from '../../../../generators/_internals/Choices.ts';
import { SequenceState, type Handle, type ProgramContext } from '../../../../generators/_internals/SequenceState.ts';
import { applicableCommands, validStep, VALID_COMMANDS } from '../../../../generators/_internals/validCommands.ts';
import type { ProgType, Scenario, Slot, StructType } from '../../../../types/index.ts';
import { programProblems } from '../wellFormed.ts';

const t0: StructType = { name: 't0', members: [{ kind: 'scalar', name: 'a', ctype: 'int', count: 2 }] };
const t1: StructType = { name: 't1', members: [{ kind: 'scalar', name: 'b', ctype: '__u64', count: null }] };
const slots: Slot[] = [
  { name: 'm0', home: { kind: 'map', mapType: 'hash' }, pointee: 't0', tag: 'percpu_kptr' },
  { name: 'm1', home: { kind: 'global', section: 'bss' }, pointee: 't1', tag: 'kptr' },
];
const ctx: ProgramContext = { structs: [t0, t1], slots, goodStructs: ['t0', 't1'], badStructs: {}, nrCpus: 2, maxOps: 40 };

/**
 * The state after `prefix` valid steps of a program of type `progType`; `unchecked`: after an unchecked
 * bpf_percpu_obj_new first, as a target or a break may leave (valid steps alone never leave an owned maybe-NULL reference).
 */
function after(progType: ProgType, unchecked: boolean, prefix: readonly number[]): { st: SequenceState; ch: Choices } {
  const st = new SequenceState(ctx, progType === 'syscall' || progType === 'fentry.s', 0);
  if (unchecked) st.newObj('t0', true);
  const ch = new Choices(prefix);
  while (!ch.exhausted()) validStep(st, ch);
  return { st, ch };
}

const scenarioWith = (st: SequenceState, progType: ProgType): Scenario => ({
  id: 'x', description: '', origin: null, intent: { kind: 'valid' }, structs: ctx.structs, slots: ctx.slots,
  globals: st.globals, programs: [st.program('p0', progType)], schedule: [],
});

/** A slot by its name, a variable by its own. */
const subjectName = (x: unknown): string => (x === null ? '' : ` ${(x as Slot | Handle).name}`);

/** `name subject weight` of each command that applies to `st`, in the order a choice indexes them. */
const menu = (st: SequenceState): string[] => applicableCommands(st).map(({ command, subject, weight }) => `${command.name}${subjectName(subject)} ${weight}`);

describe('applicableCommands()', () => {
  it('should list the commands that apply in the order a choice indexes them (recorded seeds replay only as long as it stays)', () => {
    const st = new SequenceState(ctx, false, 0);
    st.lookup('m0');
    st.load('m0');
    st.freshOwn('t1', false);
    const r = st.load('m0');
    st.nullExit(r);
    st.perCpu(r, 'this');
    st.newObj('t0', true);
    expect(menu(st)).toEqual([
      'nothing 1',
      'bpf_percpu_obj_new 2', 'bpf_obj_new 1',
      'null_check v5 4', 'release v5 2',
      'null_check v1 4',
      'if_nonnull v1 4',
      'drop v2 1', 'write v2 2', 'read v2 1',
      'take m0 1', 'publish_new m0 3', 'load m0 3',
      'bpf_per_cpu_ptr v3 3', 'bpf_this_cpu_ptr v3 2', 'sum v3 2',
      'write v4 3', 'read v4 2',
      'bpf_rcu_read_lock 1',
    ]);
  });

  it('should offer lookups first, and the unlock in a sleepable program\'s RCU section', () => {
    const st = new SequenceState(ctx, true, 0);
    expect(menu(st)).toEqual(['nothing 1', 'lookup m0 4', 'lookup m1 4', 'bpf_percpu_obj_new 2', 'bpf_obj_new 1', 'bpf_rcu_read_lock 3']);
    st.lookup('m1');
    st.rcuLock();
    expect(menu(st)).toEqual(['nothing 1', 'bpf_percpu_obj_new 2', 'bpf_obj_new 1', 'take m1 1', 'publish_new m1 3', 'bpf_rcu_read_unlock 1']);
  });

  it('should leave a program that closes well-formed, whichever command that applies runs, in any reachable state', () => {
    const applied = new Set<string>();
    fc.assert(fc.property(
      fc.constantFrom<ProgType>('tc', 'syscall', 'fentry', 'fentry.s'),
      fc.boolean(),
      fc.array(fc.nat({ max: 0xffff }), { maxLength: 12 }),
      fc.array(fc.nat({ max: 0xffff }), { maxLength: 8 }),
      (progType, unchecked, prefix, params) => {
        const offers = applicableCommands(after(progType, unchecked, prefix).st);
        offers.forEach(({ command }, i) => {
          // each command on a state of its own: the same prefix again, then that command alone
          const again = after(progType, unchecked, prefix).st;
          const o = applicableCommands(again)[i];
          expect(o?.command).toBe(command);
          command.run(again, new Choices(params), o?.subject);
          again.closeAll();
          expect(programProblems(scenarioWith(again, progType), again.program('p0', progType), ctx.nrCpus), command.name).toEqual([]);
          applied.add(command.name);
        });
      },
    ), { seed: 20261203, numRuns: 150 });
    expect(VALID_COMMANDS.map((c) => c.name).filter((n) => !applied.has(n))).toEqual([]);
  });
});
