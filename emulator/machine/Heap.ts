import { AddressSpace, FREED, MachineFault, RCU_FREED, type RegionKind } from '../memory/AddressSpace.ts';
import type { KptrField } from '../loader/objectSpec.ts';

/**
 * How the emulated kernel's allocator (bpf_mem_alloc on bpf_global_ma / bpf_global_percpu_ma) hands out memory freed
 * after a grace period: `zeroed` — every new object reads 0 (what bpf_obj_new / bpf_percpu_obj_new promise);
 * `reused-uncleared` — a new object of the same size class on the same CPU gets the last freed area back with its old
 * bytes, as kernels since 6.7 do (known divergence percpu_obj_new_uncleared).
 */
export type FreedMemory = 'zeroed' | 'reused-uncleared';

/** A struct's facts the allocator needs: its size, and its kptr fields (freed with it, bpf_obj_free_fields). */
export interface TypeFacts {
  sizeOf(typeId: number): number | null;
  kptrFields(typeId: number): readonly KptrField[];
  name(typeId: number): string;
}

interface HeapObject {
  readonly percpu: boolean;
  readonly typeId: number;
  readonly sizeClass: number;
  /** the address programs hold: the object (bpf_obj_new) or its per-CPU handle (bpf_percpu_obj_new) */
  readonly handle: number;
  /** percpu: one data region per CPU; plain: [handle] */
  readonly data: readonly number[];
  freed: boolean;
}

/** bpf_mem_alloc's size classes (kernel/bpf/memalloc.c sizes[]) */
const SIZE_CLASSES = [16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096];

function sizeClass(size: number): number {
  for (const c of SIZE_CLASSES) if (c >= size) return c;
  return size;
}

/** bpf_mem_alloc keeps a cache per CPU and size class, one for plain and one for per-CPU objects */
function freeListKey(percpu: boolean, cpu: number, sizeClass: number): number {
  return (sizeClass * 4096 + cpu) * 2 + (percpu ? 1 : 0);
}

/**
 * Objects made by bpf_obj_new / bpf_percpu_obj_new and their lifetimes: a drop marks them RCU-freed (still readable
 * and writable by the run that dropped them, as bpf_mem_free_rcu leaves them to RCU readers); the grace period at the
 * end of each run frees them for good, and an access after that is a use after free.
 */
export class Heap {
  private readonly objects: HeapObject[] = [];
  /** dropped during the current run */
  private pending: HeapObject[] = [];
  /** reused-uncleared: areas freed after a grace period, by freeListKey, last freed first */
  private readonly freeLists = new Map<number, HeapObject[]>();

  constructor(
    private readonly mem: AddressSpace,
    private readonly nrCpus: number,
    private readonly types: TypeFacts,
    private readonly freedMemory: FreedMemory,
  ) {
    mem.objectLabel = (id, kind) => this.label(id, kind);
  }

  /** `per-CPU object #3 (struct t) handle`: an object's region as faults name it */
  private label(id: number, kind: RegionKind): string {
    const o = this.objects[id] as HeapObject;
    return `${o.percpu ? 'per-CPU object' : 'object'} #${id} (struct ${this.types.name(o.typeId)})${kind === 'percpu_obj' ? ' handle' : ''}`;
  }

  /** bpf_obj_new_impl / bpf_percpu_obj_new_impl on `cpu`: the new object's address (hi of offset 0), or 0 (NULL) */
  alloc(typeId: number, percpu: boolean, cpu: number): number {
    const size = this.types.sizeOf(typeId);
    if (size === null) throw new MachineFault(`${percpu ? 'bpf_percpu_obj_new_impl' : 'bpf_obj_new_impl'}: local type id ${typeId} is not a struct`);
    const cls = sizeClass(size);
    const key = freeListKey(percpu, cpu, cls);
    const reused = this.freedMemory === 'reused-uncleared' ? this.freeLists.get(key)?.pop() : undefined;
    const id = this.objects.length;
    let handle: number;
    const data: number[] = [];
    if (percpu) {
      // the handle is the object's `void __percpu *` slot: reached only through bpf_per_cpu_ptr/bpf_this_cpu_ptr
      handle = this.mem.add('percpu_obj', id, 0, false, id);
      for (let c = 0; c < this.nrCpus && handle > 0; c++) {
        const r = reused ? (reused.data[c] as number) : this.mem.add('percpu_data', id, cls, true, id, c);
        if (r < 0) return 0; // the arena is full: bpf_mem_alloc fails, the kfunc returns NULL
        if (reused) this.reviveAs(r, id);
        data.push(r);
      }
    } else if (reused) {
      handle = reused.handle;
      this.reviveAs(handle, id);
      data.push(handle);
    } else {
      handle = this.mem.add('obj', id, cls, true, id);
      data.push(handle);
    }
    if (handle < 0) return 0;
    if (!percpu) {
      // bpf_obj_init: special fields start zeroed, whatever the memory held
      const base = this.mem.baseOf(handle);
      for (const f of this.types.kptrFields(typeId)) this.mem.view.setBigUint64(base + f.offset, 0n, true);
    }
    this.objects.push({ percpu, typeId, sizeClass: cls, handle, data, freed: false });
    return AddressSpace.hiOf(handle);
  }

  private reviveAs(region: number, owner: number): void {
    this.mem.revive(region);
    this.mem.owners[region] = owner;
  }

  /** the object whose address hi:lo is (offset 0 of its handle), or a fault */
  private objectAt(hi: number, lo: number, what: string): HeapObject {
    const region = AddressSpace.idOf(hi);
    if (hi === 0 && lo === 0) throw new MachineFault(`${what} of NULL`, hi, lo);
    const kind = region > 0 ? this.mem.kinds[region] : undefined;
    const obj = kind === 'obj' || kind === 'percpu_obj' ? this.objects[this.mem.owners[region] as number] : undefined;
    if (!obj || obj.handle !== region || lo !== 0) throw new MachineFault(`${what} of an address that is not an allocated object`, hi, lo);
    if (obj.freed) throw new MachineFault(`${what} of ${this.mem.label(region)}, already freed (double free)`, hi, lo);
    return obj;
  }

  /** bpf_obj_drop_impl / bpf_percpu_obj_drop_impl (and bpf_obj_free_fields of a map value or object) */
  drop(hi: number, lo: number, percpu: boolean): void {
    const what = percpu ? 'bpf_percpu_obj_drop_impl' : 'bpf_obj_drop_impl';
    const obj = this.objectAt(hi, lo, what);
    // a plain object reaches the per-CPU drop only where the verifier let it into a __percpu_kptr field (6.18,
    // divergence plain_obj_into_percpu): the kernel frees it through the per-CPU allocator and the program goes on
    if (obj.percpu && !percpu) throw new MachineFault(`${what} of a per-CPU object`, hi, lo);
    obj.freed = true;
    if (!percpu) this.releaseFields(obj.handle, this.types.kptrFields(obj.typeId));
    this.mem.states[obj.handle] = RCU_FREED;
    for (const r of obj.data) this.mem.states[r] = RCU_FREED;
    this.pending.push(obj);
  }

  /** bpf_obj_free_fields: each non-NULL kptr field of the value at `region` is emptied and its object dropped */
  releaseFields(region: number, fields: readonly KptrField[]): void {
    const view = this.mem.view;
    const base = this.mem.baseOf(region);
    for (const f of fields) {
      const lo = view.getInt32(base + f.offset, true);
      const hi = view.getInt32(base + f.offset + 4, true);
      if (lo === 0 && hi === 0) continue;
      view.setInt32(base + f.offset, 0, true);
      view.setInt32(base + f.offset + 4, 0, true);
      this.drop(hi, lo, f.tag === 'percpu_kptr');
    }
  }

  /** per-CPU data region of a per-CPU object handle for `cpu`, or -1 when cpu >= nr_cpus (bpf_per_cpu_ptr's NULL) */
  perCpu(hi: number, lo: number, cpu: number, what: string): number {
    const region = AddressSpace.idOf(hi);
    const obj = region > 0 && this.mem.kinds[region] === 'percpu_obj' ? this.objects[this.mem.owners[region] as number] : undefined;
    if (!obj || obj.handle !== region || lo !== 0) throw new MachineFault(`${what}: not a per-CPU object`, hi, lo);
    if (this.mem.states[region] === FREED) throw new MachineFault(`${what}: use after free of ${this.mem.label(region)}`, hi, lo);
    return cpu >= 0 && cpu < this.nrCpus ? (obj.data[cpu] as number) : -1;
  }

  /** The RCU grace period between runs: what was dropped is freed for good (and may be handed out again). */
  gracePeriod(cpu: number): void {
    if (this.pending.length === 0) return;
    for (const obj of this.pending) {
      this.mem.states[obj.handle] = FREED;
      for (const r of obj.data) this.mem.states[r] = FREED;
      if (this.freedMemory === 'reused-uncleared') {
        const key = freeListKey(obj.percpu, cpu, obj.sizeClass);
        let list = this.freeLists.get(key);
        if (!list) this.freeLists.set(key, (list = []));
        list.push(obj);
      }
    }
    this.pending = [];
  }

  /** objects allocated and not freed, for tests and `emulate` */
  live(): number {
    return this.objects.filter((o) => !o.freed).length;
  }
}
