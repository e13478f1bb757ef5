import { describe, expect, it } from 'vitest';
import { SequenceState, type ProgramContext } from '../../../../generators/_internals/SequenceState.ts';
import type { Slot, StructType } from '../../../../types/index.ts';

const t0: StructType = { name: 't0', members: [{ kind: 'scalar', name: 'a', ctype: 'long', count: null }] };
const m0: Slot = { name: 'm0', home: { kind: 'map', mapType: 'array' }, pointee: 't0', tag: 'percpu_kptr' };
const ctx: ProgramContext = { structs: [t0], slots: [m0], goodStructs: ['t0'], badStructs: {}, nrCpus: 2, maxOps: 24 };

const stateOf = (st: SequenceState, v: string): string => st.handle(v).state;

describe('SequenceState', () => {
  it('should write each op as its transition moves the model: lookup, new, NULL check, xchg, release', () => {
    const st = new SequenceState(ctx, false, 0);
    const mv = st.lookup('m0');
    const o = st.newObj('t0', true);
    expect(stateOf(st, o)).toBe('own?');
    st.nullExit(o);
    expect(stateOf(st, o)).toBe('own');
    // not sleepable: always in an RCU CS, so the owned per-CPU source becomes a non-owning RCU pointer (§2 D)
    const old = st.xchg('m0', o) as string;
    expect(stateOf(st, o)).toBe('rcu');
    expect(stateOf(st, old)).toBe('own?');
    st.release(old);
    expect(stateOf(st, old)).toBe('dead');
    expect(st.mapValueOf('m0')).toBe(mv);
    expect(st.program('p0', 'tc').ops).toEqual([
      { op: 'lookup', slot: 'm0', dst: 'v0' },
      { op: 'new', dst: 'v1', struct: 't0', percpu: true },
      { op: 'if', var: 'v1', is: 'null', then: [{ op: 'return', value: 0 }] },
      { op: 'xchg', slot: 'm0', src: 'v1', dst: 'v2' },
      { op: 'if', var: 'v2', is: 'nonnull', then: [{ op: 'drop', var: 'v2', percpu: true }] },
    ]);
  });

  it('should release the other references and unlock in a NULL check\'s exit, and count them as ops', () => {
    const st = new SequenceState(ctx, true, 0);
    st.rcuLock();
    const a = st.freshOwn('t0', true);
    const b = st.newObj('t0', false);
    const before = st.opCount;
    st.nullExit(b);
    expect(st.program('p0', 'syscall').ops.at(-1)).toEqual({
      op: 'if', var: b, is: 'null', then: [{ op: 'drop', var: a, percpu: true }, { op: 'rcu_unlock' }, { op: 'return', value: 0 }],
    });
    expect(st.opCount - before).toBe(4);
  });

  it('should make MEM_RCU pointers untrusted at the outermost bpf_rcu_read_unlock only', () => {
    const st = new SequenceState(ctx, true, 0);
    st.lookup('m0');
    expect(st.inRcu()).toBe(false);
    st.rcuLock();
    st.rcuLock();
    const r = st.load('m0');
    expect(stateOf(st, r)).toBe('rcu?');
    st.rcuUnlock();
    expect(stateOf(st, r)).toBe('rcu?');
    st.rcuUnlock();
    expect(stateOf(st, r)).toBe('untr');
    expect(stateOf(st, st.load('m0'))).toBe('untr?');
  });

  it('should leave what an `if (v)` block assigned or changed unusable after it, and v as it was', () => {
    const st = new SequenceState(ctx, false, 0);
    st.lookup('m0');
    const r = st.load('m0');
    let e = '';
    st.ifBlock(r, () => {
      expect(stateOf(st, r)).toBe('rcu');
      expect(st.blockDepth).toBe(1);
      e = st.perCpu(r, 'this');
      st.newObj('t0', true);
    });
    expect(st.blockDepth).toBe(0);
    expect(stateOf(st, r)).toBe('rcu?');
    expect(stateOf(st, e)).toBe('joined');
    // the block released the object it acquired
    expect(st.hasOwned()).toBe(false);
  });

  it('should keep a leaked reference, an unusable pointer and an exit with the lock out of the closing code', () => {
    const st = new SequenceState(ctx, false, 0);
    const o = st.newObj('t0', true);
    st.leak(o);
    st.rcuLock();
    st.exitWithRcuLock();
    st.closeAll();
    expect(st.program('p0', 'tc').ops.filter((x) => x.op === 'drop' || x.op === 'rcu_unlock' || x.op === 'if')).toEqual([]);
    st.unusable(o);
    expect(stateOf(st, o)).toBe('joined');
  });

  it('should treat a refused xchg\'s source as gone, but a map value as still one', () => {
    const st = new SequenceState(ctx, false, 0);
    const mv = st.lookup('m0');
    st.refusedXchg('m0', mv);
    expect(stateOf(st, mv)).toBe('mapval');
    const o = st.freshOwn('t0', false);
    st.refusedXchg('m0', o);
    expect(stateOf(st, o)).toBe('dead');
  });
});
