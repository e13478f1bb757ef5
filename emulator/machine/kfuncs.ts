import { MachineFault } from '../memory/AddressSpace.ts';
import type { Call, RunContext } from './helpers.ts';
import type { Regs } from '../interpreter/execute.ts';

/** BPF_MAX_LOOPS: the largest range bpf_iter_num_new accepts */
const BPF_MAX_LOOPS = 8 * 1024 * 1024;
const EINVAL = 22, E2BIG = 7;

/** an object's handle address from bpf_obj_new/bpf_percpu_obj_new */
function alloc(percpu: boolean): Call {
  return (ctx, regs) => {
    // r1 is the local type id: the verifier's fixup would pass its size, the machine looks the size up itself
    const hi = ctx.heap.alloc(regs.lo[1] as number, percpu, ctx.cpu);
    regs.lo[0] = 0;
    regs.hi[0] = hi;
  };
}

function drop(percpu: boolean): Call {
  return (ctx, regs) => ctx.heap.drop(regs.hi[1] as number, regs.lo[1] as number, percpu);
}

/** arena offset of struct bpf_iter_num_kern { int cur; int end; } in the program's 8-byte struct bpf_iter_num (r1) */
function iter(ctx: RunContext, regs: Regs): number {
  return ctx.mem.at(regs.hi[1] as number, regs.lo[1] as number, 8, true);
}

/** Kfuncs by name (kernel/bpf/helpers.c, kernel/bpf/bpf_iter.c), with the kernel's run-time behaviour. */
export const KFUNCS: Readonly<Record<string, Call>> = {
  bpf_obj_new_impl: alloc(false),
  bpf_percpu_obj_new_impl: alloc(true),
  bpf_obj_drop_impl: drop(false),
  bpf_percpu_obj_drop_impl: drop(true),
  bpf_rcu_read_lock: (ctx) => {
    ctx.rcuDepth++;
  },
  bpf_rcu_read_unlock: (ctx) => {
    ctx.rcuDepth--;
  },
  bpf_iter_num_new: (ctx, regs) => {
    const s = ctx.mem.view, a = iter(ctx, regs);
    const start = regs.lo[2] as number, end = regs.lo[3] as number;
    let rc = 0;
    if (start > end) rc = -EINVAL;
    else if (end - start > BPF_MAX_LOOPS) rc = -E2BIG;
    s.setInt32(a, rc === 0 ? start - 1 : 0, true);
    s.setInt32(a + 4, rc === 0 ? end : 0, true);
    regs.lo[0] = rc;
    regs.hi[0] = rc >> 31;
  },
  bpf_iter_num_next: (ctx, regs) => {
    const s = ctx.mem.view, a = iter(ctx, regs);
    const cur = s.getInt32(a, true), end = s.getInt32(a + 4, true);
    if (cur + 1 >= end) {
      s.setInt32(a, 0, true);
      s.setInt32(a + 4, 0, true);
      regs.lo[0] = 0;
      regs.hi[0] = 0;
      return;
    }
    s.setInt32(a, cur + 1, true);
    regs.lo[0] = regs.lo[1] as number;
    regs.hi[0] = regs.hi[1] as number;
  },
  bpf_iter_num_destroy: (ctx, regs) => {
    const s = ctx.mem.view, a = iter(ctx, regs);
    s.setInt32(a, 0, true);
    s.setInt32(a + 4, 0, true);
  },
};

export function kfuncCall(name: string): Call {
  return KFUNCS[name] ?? (() => {
    throw new MachineFault(`kfunc ${name} is not emulated`);
  });
}
