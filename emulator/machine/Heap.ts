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

/** the type facts of a freed machine's heap: nothing is allocated or named after free() */
const RELEASED: TypeFacts = { sizeOf: () => null, kptrFields: () => [], name: (id) => `#${id}` };

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

/** the columns' first size: a campaign object's machine makes about a thousand objects (each grow is six allocations) */
const INITIAL_OBJECTS = 1024;

/** `to` holding `from` at its start (a column grown; no closure per grow) */
function copiedInto<T extends Uint8Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/**
 * Objects made by bpf_obj_new / bpf_percpu_obj_new and their lifetimes: a drop marks them RCU-freed (still readable
 * and writable by the run that dropped them, as bpf_mem_free_rcu leaves them to RCU readers); the grace period at the
 * end of each run frees them for good, and an access after that is a use after free.
 */
export class Heap {
  /**
   * Objects by id, as columns (programs allocate on most runs: an object and an array per allocation were a large
   * share of the machine's garbage). `handle` is the address programs hold: the object (bpf_obj_new) or its per-CPU
   * handle (bpf_percpu_obj_new); `data` the first of its data regions: one per CPU, consecutive ids, for a per-CPU
   * object (a reused area keeps the consecutive regions it was made with); the object itself for a plain one.
   */
  private count = 0;
  private percpu = new Uint8Array(INITIAL_OBJECTS);
  private typeIds = new Int32Array(INITIAL_OBJECTS);
  private sizeClasses = new Int32Array(INITIAL_OBJECTS);
  private handles = new Int32Array(INITIAL_OBJECTS);
  private data = new Int32Array(INITIAL_OBJECTS);
  private freed = new Uint8Array(INITIAL_OBJECTS);
  /**
   * ids of objects dropped during the current run: the first `nPending` (the list is reused: an array emptied by
   * `length = 0` lets go of its storage, and the next run's first drop made one again)
   */
  private readonly pending: number[] = [];
  private nPending = 0;
  /** reused-uncleared: ids of objects whose areas were freed after a grace period, by freeListKey, last freed first */
  private readonly freeLists = new Map<number, number[]>();

  constructor(
    private readonly mem: AddressSpace,
    private readonly nrCpus: number,
    private types: TypeFacts,
    private readonly freedMemory: FreedMemory,
  ) {
    mem.objectLabel = (id, kind) => this.label(id, kind);
  }

  /**
   * The machine is freed: its heap lets go of the object's type facts, and through them of its BTF. Freed machines
   * are garbage, but a campaign's scavenges kept copying what their heaps' facts reached until the next full GC
   * (measured over 40 passes of 21 objects: 6.3 MB survived each scavenge, 2.2 MB once the facts were dropped here).
   */
  release(): void {
    this.types = RELEASED;
  }

  /** `per-CPU object #3 (struct t) handle`: an object's region as faults name it */
  private label(id: number, kind: RegionKind): string {
    return `${this.percpu[id] === 1 ? 'per-CPU object' : 'object'} #${id} (struct ${this.types.name(this.typeIds[id] as number)})${kind === 'percpu_obj' ? ' handle' : ''}`;
  }

  /** the data regions of object `id`: one per CPU of a per-CPU object, else the object itself */
  private dataCount(id: number): number {
    return this.percpu[id] === 1 ? this.nrCpus : 1;
  }

  private grow(): void {
    const n = this.handles.length * 2;
    this.percpu = copiedInto(this.percpu, new Uint8Array(n));
    this.typeIds = copiedInto(this.typeIds, new Int32Array(n));
    this.sizeClasses = copiedInto(this.sizeClasses, new Int32Array(n));
    this.handles = copiedInto(this.handles, new Int32Array(n));
    this.data = copiedInto(this.data, new Int32Array(n));
    this.freed = copiedInto(this.freed, new Uint8Array(n));
  }

  /** bpf_obj_new_impl / bpf_percpu_obj_new_impl on `cpu`: the new object's address (hi of offset 0), or 0 (NULL) */
  alloc(typeId: number, percpu: boolean, cpu: number): number {
    const size = this.types.sizeOf(typeId);
    if (size === null) throw new MachineFault(`${percpu ? 'bpf_percpu_obj_new_impl' : 'bpf_obj_new_impl'}: local type id ${typeId} is not a struct`);
    const cls = sizeClass(size);
    const key = freeListKey(percpu, cpu, cls);
    const reused = this.freedMemory === 'reused-uncleared' ? this.freeLists.get(key)?.pop() ?? -1 : -1;
    const id = this.count;
    let handle: number;
    let data: number;
    if (percpu) {
      // the handle is the object's `void __percpu *` slot: reached only through bpf_per_cpu_ptr/bpf_this_cpu_ptr
      handle = this.mem.add('percpu_obj', id, 0, false, id);
      data = reused >= 0 ? (this.data[reused] as number) : handle + 1;
      for (let c = 0; c < this.nrCpus && handle > 0; c++) {
        const r = reused >= 0 ? data + c : this.mem.add('percpu_data', id, cls, true, id, c);
        if (r < 0) return 0; // the arena is full: bpf_mem_alloc fails, the kfunc returns NULL
        if (reused >= 0) this.reviveAs(r, id);
      }
    } else if (reused >= 0) {
      handle = this.handles[reused] as number;
      this.reviveAs(handle, id);
      data = handle;
    } else {
      handle = this.mem.add('obj', id, cls, true, id);
      data = handle;
    }
    if (handle < 0) return 0;
    if (!percpu) {
      // bpf_obj_init: special fields start zeroed, whatever the memory held
      const base = this.mem.baseOf(handle);
      for (const f of this.types.kptrFields(typeId)) {
        this.mem.view.setInt32(base + f.offset, 0, true);
        this.mem.view.setInt32(base + f.offset + 4, 0, true);
      }
    }
    if (id >= this.handles.length) this.grow();
    this.percpu[id] = percpu ? 1 : 0;
    this.typeIds[id] = typeId;
    this.sizeClasses[id] = cls;
    this.handles[id] = handle;
    this.data[id] = data;
    this.freed[id] = 0;
    this.count = id + 1;
    return AddressSpace.hiOf(handle);
  }

  private reviveAs(region: number, owner: number): void {
    this.mem.revive(region);
    this.mem.owners[region] = owner;
  }

  /** the id of the object whose address hi:lo is (offset 0 of its handle), or a fault */
  private objectAt(hi: number, lo: number, what: string): number {
    const region = AddressSpace.idOf(hi);
    if (hi === 0 && lo === 0) throw new MachineFault(`${what} of NULL`, hi, lo);
    const kind = region > 0 ? this.mem.kinds[region] : undefined;
    const id = kind === 'obj' || kind === 'percpu_obj' ? (this.mem.owners[region] as number) : -1;
    if (id < 0 || id >= this.count || this.handles[id] !== region || lo !== 0) throw new MachineFault(`${what} of an address that is not an allocated object`, hi, lo);
    if (this.freed[id] === 1) throw new MachineFault(`${what} of ${this.mem.label(region)}, already freed (double free)`, hi, lo);
    return id;
  }

  /** every region of object `id` (its handle, then its data regions) takes `state` */
  private setState(id: number, state: number): void {
    const states = this.mem.states;
    states[this.handles[id] as number] = state;
    const first = this.data[id] as number;
    for (let r = first, end = first + this.dataCount(id); r < end; r++) states[r] = state;
  }

  /** bpf_obj_drop_impl / bpf_percpu_obj_drop_impl (and bpf_obj_free_fields of a map value or object) */
  drop(hi: number, lo: number, percpu: boolean): void {
    const what = percpu ? 'bpf_percpu_obj_drop_impl' : 'bpf_obj_drop_impl';
    const id = this.objectAt(hi, lo, what);
    // a plain object reaches the per-CPU drop only where the verifier let it into a __percpu_kptr field (6.18,
    // divergence plain_obj_into_percpu): the kernel frees it through the per-CPU allocator and the program goes on
    if (this.percpu[id] === 1 && !percpu) throw new MachineFault(`${what} of a per-CPU object`, hi, lo);
    this.freed[id] = 1;
    if (!percpu) this.releaseFields(this.handles[id] as number, this.types.kptrFields(this.typeIds[id] as number));
    this.setState(id, RCU_FREED);
    this.pending[this.nPending++] = id;
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
    const id = region > 0 && this.mem.kinds[region] === 'percpu_obj' ? (this.mem.owners[region] as number) : -1;
    if (id < 0 || id >= this.count || this.handles[id] !== region || lo !== 0) throw new MachineFault(`${what}: not a per-CPU object`, hi, lo);
    if (this.mem.states[region] === FREED) throw new MachineFault(`${what}: use after free of ${this.mem.label(region)}`, hi, lo);
    return cpu >= 0 && cpu < this.nrCpus ? (this.data[id] as number) + cpu : -1;
  }

  /** The RCU grace period between runs: what was dropped is freed for good (and may be handed out again). */
  gracePeriod(cpu: number): void {
    if (this.nPending === 0) return;
    for (let i = 0; i < this.nPending; i++) {
      const id = this.pending[i] as number;
      this.setState(id, FREED);
      if (this.freedMemory === 'reused-uncleared') {
        const key = freeListKey(this.percpu[id] === 1, cpu, this.sizeClasses[id] as number);
        let list = this.freeLists.get(key);
        if (!list) this.freeLists.set(key, (list = []));
        list.push(id);
      }
    }
    this.nPending = 0;
  }

  /** objects allocated and not freed, for tests and `emulate` */
  live(): number {
    let n = 0;
    for (let id = 0; id < this.count; id++) if (this.freed[id] === 0) n++;
    return n;
  }
}
