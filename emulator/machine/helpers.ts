import { BPF_FUNC } from '../../bpf/asm/funcIds.ts';
import { AddressSpace, MachineFault } from '../memory/AddressSpace.ts';
import type { Regs } from '../interpreter/execute.ts';
import type { Heap } from './Heap.ts';
import { mapAt, type MapStore } from './MapStore.ts';

/** What a helper or kfunc sees of the machine during a run. */
export interface RunContext {
  readonly mem: AddressSpace;
  readonly heap: Heap;
  readonly maps: readonly MapStore[];
  readonly nrCpus: number;
  /** the CPU the run is pinned to (migration is disabled while a BPF program runs) */
  cpu: number;
  /** bpf_rcu_read_lock nesting of the current run */
  rcuDepth: number;
  /** the region of the task the runs happen in (bpf_get_current_task_btf): the owner of task storage, its cgroup's of cgroup storage */
  task: number;
}

export type Call = (ctx: RunContext, regs: Regs) => void;

/** bpf_{task,cgrp}_storage_get's flag (include/uapi/linux/bpf.h) */
const BPF_LOCAL_STORAGE_GET_F_CREATE = 1;

/**
 * bpf_task_storage_get / bpf_cgrp_storage_get: the element of the owner R2 points at (a task or a cgroup region, whose
 * owner field says whose storage it is) in the map R1, created when missing with BPF_LOCAL_STORAGE_GET_F_CREATE.
 */
function localStorageGet(name: string, mapType: 'task_storage' | 'cgrp_storage', owner: 'task' | 'cgroup'): Call {
  return (ctx, regs) => {
    const m = mapOf(ctx, regs, name);
    if (m.spec.type !== mapType) throw new MachineFault(`${name}: R1 is not a ${mapType} map`, regs.hi[1] as number, regs.lo[1] as number);
    // a NULL owner gives NULL
    if (regs.hi[2] === 0 && regs.lo[2] === 0) return returnRegion(regs, -1);
    const id = AddressSpace.idOf(regs.hi[2] as number);
    if (ctx.mem.kinds[id] !== owner) throw new MachineFault(`${name}: R2 is not a ${owner}`, regs.hi[2] as number, regs.lo[2] as number);
    // the initial value (R3) is only ever NULL in the suite's programs: the element starts zeroed
    returnRegion(regs, m.storageGet(ctx.mem.owners[id] as number, ((regs.lo[4] as number) & BPF_LOCAL_STORAGE_GET_F_CREATE) !== 0));
  };
}

function setR0(regs: Regs, lo: number, hi: number): void {
  regs.lo[0] = lo;
  regs.hi[0] = hi;
}

/** r0 = an address in `region` (offset 0), or NULL for -1 */
export function returnRegion(regs: Regs, region: number): void {
  if (region < 0) setR0(regs, 0, 0);
  else setR0(regs, 0, AddressSpace.hiOf(region));
}

function returnInt(regs: Regs, v: number): void {
  setR0(regs, v, v >> 31);
}

/** arena offset of a checked access of `size` bytes at the address in register r */
const at = (ctx: RunContext, regs: Regs, r: number, size: number, write: boolean): number => ctx.mem.at(regs.hi[r] as number, regs.lo[r] as number, size, write);

const mapOf = (ctx: RunContext, regs: Regs, what: string): MapStore => mapAt(ctx.maps, ctx.mem, regs.hi[1] as number, regs.lo[1] as number, what);

/** Helpers by id (include/uapi/linux/bpf.h ___BPF_FUNC_MAPPER), with the kernel's run-time behaviour. */
export const HELPERS: Readonly<Record<number, { readonly name: string; readonly call: Call }>> = {
  [BPF_FUNC.map_lookup_elem]: {
    name: 'bpf_map_lookup_elem',
    call: (ctx, regs) => {
      const m = mapOf(ctx, regs, 'bpf_map_lookup_elem');
      returnRegion(regs, m.lookup(at(ctx, regs, 2, m.spec.keySize, false), ctx.cpu));
    },
  },
  [BPF_FUNC.map_update_elem]: {
    name: 'bpf_map_update_elem',
    call: (ctx, regs) => {
      const m = mapOf(ctx, regs, 'bpf_map_update_elem');
      returnInt(regs, m.update(at(ctx, regs, 2, m.spec.keySize, false), at(ctx, regs, 3, m.spec.valueSize, false), regs.lo[4] as number, ctx.cpu));
    },
  },
  [BPF_FUNC.map_delete_elem]: {
    name: 'bpf_map_delete_elem',
    call: (ctx, regs) => {
      const m = mapOf(ctx, regs, 'bpf_map_delete_elem');
      returnInt(regs, m.delete(at(ctx, regs, 2, m.spec.keySize, false)));
    },
  },
  [BPF_FUNC.get_current_task_btf]: { name: 'bpf_get_current_task_btf', call: (ctx, regs) => returnRegion(regs, ctx.task) },
  [BPF_FUNC.task_storage_get]: { name: 'bpf_task_storage_get', call: localStorageGet('bpf_task_storage_get', 'task_storage', 'task') },
  [BPF_FUNC.cgrp_storage_get]: { name: 'bpf_cgrp_storage_get', call: localStorageGet('bpf_cgrp_storage_get', 'cgrp_storage', 'cgroup') },
  [BPF_FUNC.get_smp_processor_id]: { name: 'bpf_get_smp_processor_id', call: (ctx, regs) => returnInt(regs, ctx.cpu) },
  [BPF_FUNC.per_cpu_ptr]: {
    name: 'bpf_per_cpu_ptr',
    call: (ctx, regs) => returnRegion(regs, ctx.heap.perCpu(regs.hi[1] as number, regs.lo[1] as number, (regs.lo[2] as number) >>> 0, 'bpf_per_cpu_ptr')),
  },
  [BPF_FUNC.this_cpu_ptr]: {
    name: 'bpf_this_cpu_ptr',
    call: (ctx, regs) => returnRegion(regs, ctx.heap.perCpu(regs.hi[1] as number, regs.lo[1] as number, ctx.cpu, 'bpf_this_cpu_ptr')),
  },
  [BPF_FUNC.kptr_xchg]: {
    name: 'bpf_kptr_xchg',
    call: (ctx, regs) => {
      // an atomic xchg() of the 8-byte field
      const a = at(ctx, regs, 1, 8, true);
      const view = ctx.mem.view;
      const olo = view.getInt32(a, true), ohi = view.getInt32(a + 4, true);
      view.setInt32(a, regs.lo[2] as number, true);
      view.setInt32(a + 4, regs.hi[2] as number, true);
      setR0(regs, olo, ohi);
    },
  },
};

export function helperCall(id: number): Call {
  const h = HELPERS[id];
  if (h) return h.call;
  return () => {
    throw new MachineFault(id === 0 ? 'call 0: an unresolved weak extern' : `helper #${id} is not emulated`);
  };
}
