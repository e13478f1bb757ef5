import { AddressSpace, MachineFault, RCU_FREED } from '../memory/AddressSpace.ts';
import type { MapSpec } from '../loader/objectSpec.ts';
import type { Heap } from './Heap.ts';

/** errno values helpers return negated (include/uapi/asm-generic/errno-base.h) */
export const E2BIG = 7, ENOENT = 2, EEXIST = 17, EINVAL = 22;
/** the kernel-internal errno bpf(2) returns for an operation a map type lacks (include/linux/errno.h) */
export const ENOTSUPP = 524;
/** a hash batch lookup's bucket holds more elements than the room left */
export const ENOSPC = 28;
/** bpf_map_update_elem flags */
const BPF_NOEXIST = 1, BPF_EXIST = 2, BPF_F_LOCK = 4;
/** sizeof(struct bpf_spin_lock) */
const SPIN_LOCK_SIZE = 4;

/** One element: a value region, or one per CPU for per-CPU maps. */
interface Element {
  readonly regions: readonly number[];
}

/**
 * One map's elements in the address space, with the kernel's update/delete semantics for the types kptr-conform uses.
 * Every path that replaces or removes a value frees its kptr fields (bpf_obj_free_fields): an array update, a hash
 * replace or delete, an LRU eviction, and the map's own free; except a hash update with BPF_F_LOCK of an existing
 * element, which copies in place as every kernel measured does (divergence htab_lock_update_keeps_percpu_kptr).
 */
export class MapStore {
  /** the map's own address (what ld_imm64 BPF_PSEUDO_MAP_FD gives a program): a region nothing may access */
  readonly handle: number;
  private readonly percpu: boolean;
  private readonly lru: boolean;
  private readonly array: boolean;
  /** array maps: by index (made at their length: an array grown by push starts with room for 16) */
  private readonly slots: (Element | null)[];
  /** hash and local storage maps: by key bytes as hex, in LRU order (least recent first); made on first use (most maps here are arrays) */
  private hashMap: Map<number | string, Element> | null = null;
  /**
   * elements userspace removed or overwrote with their kptr fields left set (keepsKptr), most recent last: the next
   * element this hash map makes takes those fields over, as a preallocated element popped again from the freelist
   */
  private readonly kept: Element[] = [];

  constructor(
    readonly spec: MapSpec,
    readonly index: number,
    private readonly mem: AddressSpace,
    private readonly heap: Heap,
    private readonly nrCpus: number,
    /** value regions of removed elements (all maps'), freed for good at the next grace period */
    private readonly retired: number[],
    /**
     * Linux 7.3 (divergences htab_delete_keeps_percpu_kptr, lru_evict_keeps_percpu_kptr): a userspace removal of a
     * hash or percpu_hash element, an overwrite of an existing percpu_hash element, or an LRU eviction leaves its kptr
     * fields set instead of freeing their objects
     */
    private readonly keepsKptr = false,
    /** Linux 7.3 (divergence array_update_keeps_percpu_kptr): a userspace update of an array element keeps its kptr fields */
    private readonly arrayUpdateKeepsKptr = false,
  ) {
    this.handle = mem.add('map', `map ${spec.name}`, 0, false, index);
    this.percpu = spec.type === 'percpu_array' || spec.type === 'percpu_hash' || spec.type === 'lru_percpu_hash';
    this.lru = spec.type === 'lru_hash' || spec.type === 'lru_percpu_hash';
    this.array = spec.type === 'array' || spec.type === 'percpu_array';
    this.slots = new Array<Element | null>(this.array ? spec.maxEntries : 0);
    if (this.array) {
      const writable = spec.internal?.kind !== 'rodata';
      for (let k = 0; k < spec.maxEntries; k++) this.slots[k] = this.newElement(`[${k}]`, writable, k === 0 ? spec.initial : null);
    }
  }

  private get hash(): Map<number | string, Element> {
    return (this.hashMap ??= new Map());
  }

  private newElement(key: string, writable: boolean, initial: Uint8Array | null): Element {
    const n = this.percpu ? this.nrCpus : 1;
    const label = this.spec.internal ? this.spec.name : `map ${this.spec.name} value ${key}`;
    const regions = new Array<number>(n);
    for (let c = 0; c < n; c++) {
      // an initial value of the value's size is copied in by add() (no two views per global)
      const init = initial?.length === this.spec.valueSize ? initial : this.spec.valueSize;
      // a per-CPU copy's CPU is a column of its region (its name in faults ends `cpu N`): one label for all copies
      const r = this.mem.add(this.spec.internal ? 'global' : 'map_value', label, init, writable, this.index, this.percpu ? c : -1);
      if (initial && init !== initial && r > 0) this.mem.bytes(r).set(initial.subarray(0, this.spec.valueSize));
      regions[c] = r;
    }
    return { regions };
  }

  /** a hash map's key at arena offset `at`: the u32 itself for 4-byte keys, else its bytes in hex */
  private key(at: number): number | string {
    const v = this.mem.view;
    if (this.spec.keySize === 4) return v.getUint32(at, true);
    let k = '';
    for (let i = 0; i < this.spec.keySize; i++) k += v.getUint8(at + i).toString(16).padStart(2, '0');
    return k;
  }

  /** the element's value region for `cpu`, or -1 (bpf_map_lookup_elem's NULL) */
  lookup(keyAt: number, cpu: number): number {
    let e: Element | null | undefined;
    if (this.array) e = this.slots[this.mem.view.getUint32(keyAt, true)];
    else {
      const k = this.key(keyAt);
      e = this.hash.get(k);
      if (e && this.lru) {
        // a lookup marks the element used (bpf_lru_node_set_ref): move it to the recent end
        this.hash.delete(k);
        this.hash.set(k, e);
      }
    }
    return e ? (e.regions[this.percpu ? cpu : 0] as number) : -1;
  }

  /** bpf_map_update_elem from a program on `cpu`: 0 or -errno */
  update(keyAt: number, valueAt: number, flags: number, cpu: number): number {
    const value = new Uint8Array(this.mem.view.buffer, valueAt, this.spec.valueSize);
    return this.store(this.array ? this.mem.view.getUint32(keyAt, true) : this.key(keyAt), flags, value, cpu);
  }

  /**
   * bpf_map_update_elem from userspace: 0 or -errno. `value` holds one copy per CPU for per-CPU maps (each at a
   * multiple of the value size rounded up to 8), and each copy goes to its CPU.
   */
  sysUpdate(key: number, value: Uint8Array, flags: number): number {
    // syscall.c map_update_elem: BPF_F_LOCK needs a spin lock in the value
    if ((flags & BPF_F_LOCK) !== 0 && this.spec.spinLockOffset === null) return -EINVAL;
    return this.store(key >>> 0, flags, value, -1, this.array ? this.arrayUpdateKeepsKptr : this.keepsKptr && this.percpu);
  }

  /** bpf_map_delete_elem from userspace: 0 or -errno */
  sysDelete(key: number): number {
    return this.array ? -EINVAL : this.remove(key >>> 0, this.keepsKptr);
  }

  /**
   * bpf_map_lookup_elem (and with `andDelete`, bpf_map_lookup_and_delete_elem) from userspace: the value's copies
   * (one per CPU for per-CPU maps, 8-byte aligned) with zero where kptr fields sit (check_and_init_map_value), or
   * -errno.
   */
  sysLookup(key: number, andDelete: boolean, flags = 0): Uint8Array | number {
    // syscall.c map_lookup_elem: BPF_F_LOCK needs a spin lock in the value
    if ((flags & BPF_F_LOCK) !== 0 && this.spec.spinLockOffset === null) return -EINVAL;
    if (andDelete && this.array) return -ENOTSUPP;
    const e = this.array ? this.slots[key >>> 0] : this.hash.get(key >>> 0);
    if (!e) return -ENOENT;
    const stride = (this.spec.valueSize + 7) & ~7;
    const out = new Uint8Array(stride * e.regions.length);
    e.regions.forEach((r, c) => {
      out.set(this.mem.bytes(r).subarray(0, this.spec.valueSize), c * stride);
      for (const [from, to] of this.specialFields()) out.fill(0, c * stride + from, c * stride + to);
    });
    if (andDelete) this.remove(key >>> 0, this.keepsKptr);
    return out;
  }

  /**
   * BPF_MAP_UPDATE_BATCH / DELETE_BATCH / LOOKUP_BATCH / LOOKUP_AND_DELETE_BATCH from userspace (in_batch NULL):
   * the errno (0 on success), `count` as the kernel leaves it, and for a lookup the keys and value copies returned.
   * `keys` and `values` (one element's copies after another) are a batch update's or delete's input; `count` is the
   * number of keys or a lookup's room. A hash map is walked as one bucket, which it is with max_entries 1
   * (n_buckets = roundup_pow_of_two(max_entries)), the suite's maps.
   */
  sysBatch(cmd: 'update_batch' | 'delete_batch' | 'lookup_batch' | 'lookup_and_delete_batch', keys: readonly number[], values: Uint8Array, count: number, elemFlags: number): { readonly errno: number; readonly count: number; readonly keys: number[]; readonly values: Uint8Array[] } {
    // BPF_DO_BATCH: array maps have no delete or lookup_and_delete batch
    if (this.array && (cmd === 'delete_batch' || cmd === 'lookup_and_delete_batch')) return done(ENOTSUPP, count);
    // elem_flags takes BPF_F_LOCK only, and only for a value with a spin lock
    if ((elemFlags & ~BPF_F_LOCK) !== 0 || (elemFlags !== 0 && this.spec.spinLockOffset === null)) return done(EINVAL, count);
    if (count === 0) return done(0, 0);
    if (cmd === 'update_batch' || cmd === 'delete_batch') {
      const stride = ((this.spec.valueSize + 7) & ~7) * (this.percpu ? this.nrCpus : 1);
      for (let cp = 0; cp < count; cp++) {
        const key = keys[cp] ?? 0;
        const r = cmd === 'update_batch' ? this.sysUpdate(key, values.subarray(cp * stride, (cp + 1) * stride), elemFlags) : this.sysDelete(key);
        if (r !== 0) return done(-r, cp);
      }
      return done(0, count);
    }
    // arrays walk keys (generic_map_lookup_batch) and end when they run out first; hash maps end past the last bucket
    const all = this.array ? Array.from({ length: this.spec.maxEntries }, (_, k) => k) : [...this.hash.keys()].map(Number);
    if (!this.array && all.length > count) return done(ENOSPC, 0);
    const got = all.slice(0, count);
    const out = got.map((k) => this.sysLookup(k, cmd === 'lookup_and_delete_batch') as Uint8Array);
    return done(!this.array || got.length < count ? ENOENT : 0, got.length, out, got);
  }

  /**
   * `value` into element `e`, then with `free` bpf_obj_free_fields on it: a program's update on
   * `cpu` writes that CPU's copy only; userspace's (`cpu` -1) gives one copy per CPU, each at a multiple of the value
   * size rounded up to 8
   */
  private write(e: Element, value: Uint8Array, cpu: number, free: boolean): void {
    if (cpu >= 0) {
      this.copyValue(e.regions[this.percpu ? cpu : 0] as number, value, free);
      return;
    }
    const stride = (this.spec.valueSize + 7) & ~7;
    e.regions.forEach((r, c) => this.copyValue(r, value.subarray(c * stride, c * stride + this.spec.valueSize), free));
  }

  /**
   * an update of element `k` with `flags` (the kernel's checks, in its order), `value` written as write() does for
   * `cpu` (no closure per update: programs update maps on most runs); `keep`: an old element's kptr fields stay set
   * in the new one (keepsKptr), an array element's stay set (arrayUpdateKeepsKptr)
   */
  private store(k: number | string, fullFlags: number, value: Uint8Array, cpu: number, keep = false): number {
    const lock = (fullFlags & BPF_F_LOCK) !== 0;
    const flags = fullFlags & ~BPF_F_LOCK;
    // htab_lru_map_update_elem and the per-CPU maps take no BPF_F_LOCK (map_check_btf gives them no spin lock)
    if (flags > BPF_EXIST || (lock && (this.lru || this.percpu))) return -EINVAL;
    if (this.array) {
      const e = this.slots[k as number];
      if (!e) return -E2BIG;
      if (flags === BPF_NOEXIST) return -EEXIST;
      // array_map_update_elem: copy (under the lock with BPF_F_LOCK), then bpf_obj_free_fields (not with `keep`)
      this.write(e, value, cpu, !keep);
      return 0;
    }
    // htab_lru_map_update_elem takes a node (prealloc_lru_pop) before it looks the key up: a full map's LRU evicts
    // its least recently used element for it, even the one being updated; the per-CPU LRU map pops no node for
    // BPF_EXIST (__htab_lru_percpu_map_update_elem). Then the flags are checked against what is left.
    if (this.lru && this.hash.size >= this.spec.maxEntries && !(this.percpu && flags === BPF_EXIST)) {
      const [lruKey, lru] = this.hash.entries().next().value as [number | string, Element];
      this.hash.delete(lruKey);
      // Linux 7.3 (divergence lru_evict_keeps_percpu_kptr): the evicted element's fields go with its node
      if (this.keepsKptr) this.kept.push(lru);
      else this.free(lru);
    }
    const old = this.hash.get(k);
    if (old && flags === BPF_NOEXIST) return -EEXIST;
    if (!old && flags === BPF_EXIST) return -ENOENT;
    if (!old && this.hash.size >= this.spec.maxEntries) return -E2BIG;
    if (old && lock) {
      // htab_map_update_elem's BPF_F_LOCK path: the existing element's value is overwritten in place under its lock
      // (copy_map_value_locked skips special fields) and its kptr field keeps its object (divergence
      // htab_lock_update_keeps_percpu_kptr, every kernel measured)
      this.write(old, value, cpu, false);
      return 0;
    }
    // htab_map_update_elem: a new element; the old one (if any) is freed with its fields
    const e = this.newElement(`(key ${k})`, true, null);
    this.write(e, value, cpu, true);
    if (old) {
      this.hash.delete(k);
      if (keep) this.kept.push(old);
      else this.free(old);
    }
    this.inherit(e);
    this.hash.set(k, e);
    return 0;
  }

  /** a new hash element takes over the kptr fields of the element last kept (keepsKptr), which is then freed */
  private inherit(e: Element): void {
    const from = this.kept.pop();
    if (from === undefined) return;
    from.regions.forEach((src, c) => {
      const dst = e.regions[c] as number;
      for (const f of this.spec.kptrFields) {
        this.mem.bytes(dst).set(this.mem.bytes(src).subarray(f.offset, f.offset + 8), f.offset);
        this.mem.bytes(src).fill(0, f.offset, f.offset + 8);
      }
    });
    this.free(from);
  }

  /**
   * bpf_task_storage_get / bpf_cgrp_storage_get: the value region of `owner`'s element, made zeroed first when it has
   * none and `create` (BPF_LOCAL_STORAGE_GET_F_CREATE), or -1 (NULL). A local storage map has one element per owner
   * and no max_entries.
   */
  storageGet(owner: number, create: boolean): number {
    let e = this.hash.get(owner);
    if (!e && create) {
      e = this.newElement(`(${this.spec.type === 'cgrp_storage' ? 'cgroup' : 'task'} ${owner})`, true, null);
      this.hash.set(owner, e);
    }
    return e ? (e.regions[0] as number) : -1;
  }

  /**
   * The owner is gone (bpf_task_storage_free, bpf_cgrp_storage_free): its element is unlinked and its kptr fields release their objects.
   * Returns what went wrong (a field holding a freed object), one line each; never throws.
   */
  ownerGone(owner: number): string[] {
    try {
      this.remove(owner);
      return [];
    } catch (err) {
      if (!(err instanceof MachineFault)) throw err;
      return [`freeing the ${this.spec.type} of map ${this.spec.name}: ${err.why}`];
    }
  }

  /** bpf_map_delete_elem: 0 or -errno (arrays: -EINVAL) */
  delete(keyAt: number): number {
    return this.array ? -EINVAL : this.remove(this.key(keyAt));
  }

  /** a hash map's element `k` leaves the map: 0, or -ENOENT; `keep`: with its kptr fields left set (keepsKptr) */
  private remove(k: number | string, keep = false): number {
    const e = this.hash.get(k);
    if (!e) return -ENOENT;
    this.hash.delete(k);
    if (keep) this.kept.push(e);
    else this.free(e);
    return 0;
  }

  /** the value's special fields (kptrs, the spin lock) as [from, to) byte ranges, in offset order; made on first use */
  private special: readonly (readonly [number, number])[] | null = null;

  private specialFields(): readonly (readonly [number, number])[] {
    if (this.special !== null) return this.special;
    const lock = this.spec.spinLockOffset;
    const ranges: [number, number][] = this.spec.kptrFields.map((f) => [f.offset, f.offset + 8]);
    if (lock !== null) ranges.push([lock, lock + SPIN_LOCK_SIZE]);
    return (this.special = ranges.sort((a, b) => a[0] - b[0]));
  }

  /**
   * copy_map_value (special fields skipped), then with `free` bpf_obj_free_fields on the element. Byte by byte through
   * the arena's view: values are a few dozen bytes, and a view per range cost more than the copy (programs update
   * maps on most runs).
   */
  private copyValue(region: number, value: Uint8Array, free: boolean): void {
    const view = this.mem.view;
    const base = this.mem.baseOf(region);
    const special = this.specialFields();
    let at = 0;
    for (let i = 0; i < special.length; i++) {
      copyBytes(view, base, value, at, special[i]![0]);
      at = special[i]![1];
    }
    copyBytes(view, base, value, at, this.spec.valueSize);
    if (free) this.heap.releaseFields(region, this.spec.kptrFields);
  }

  /** an element leaves the map: its fields are freed and its memory stays readable until the grace period */
  private free(e: Element): void {
    for (const r of e.regions) {
      this.heap.releaseFields(r, this.spec.kptrFields);
      this.mem.states[r] = RCU_FREED;
      this.retired.push(r);
    }
  }

  /**
   * The map is freed (its last reference gone): every element's kptr fields are released. Appends to `problems` what
   * went wrong (a field holding a freed object: the kernel's double free at map free), one line each; never throws.
   */
  destroy(problems: string[]): void {
    // htab_free_prealloced_fields walks free elements too: what a kept element holds is released here
    for (const e of this.slots) if (e) this.destroyElement(e, problems);
    if (this.hashMap !== null) for (const e of this.hashMap.values()) this.destroyElement(e, problems);
    for (const e of this.kept) this.destroyElement(e, problems);
    this.slots.length = 0;
    // clear() makes a new table even for an empty Map
    if (this.hashMap !== null && this.hashMap.size > 0) this.hashMap.clear();
    this.kept.length = 0;
  }

  private destroyElement(e: Element, problems: string[]): void {
    try {
      this.free(e);
    } catch (err) {
      if (!(err instanceof MachineFault)) throw err;
      problems.push(`freeing map ${this.spec.name}: ${err.why}`);
    }
  }

  /** value regions of every element (CPU 0's copy first), for reading globals */
  valueRegion(key: number, cpu: number): number {
    const e = this.array ? this.slots[key] : undefined;
    return e ? (e.regions[this.percpu ? cpu : 0] as number) : -1;
  }
}

/** bytes [from, to) of `value` (those it has) to the arena at base + from */
function copyBytes(view: DataView, base: number, value: Uint8Array, from: number, to: number): void {
  for (let b = from, end = Math.min(to, value.length); b < end; b++) view.setUint8(base + b, value[b]!);
}

/** sysBatch's answer (a module function: a closure per call is a property definition under tsx) */
function done(errno: number, n: number, out: Uint8Array[] = [], outKeys: number[] = []): ReturnType<MapStore['sysBatch']> {
  return { errno, count: n, keys: outKeys, values: out };
}

/** the map a map address (hi:lo) names, or a fault */
export function mapAt(maps: readonly MapStore[], mem: AddressSpace, hi: number, lo: number, what: string): MapStore {
  const id = AddressSpace.idOf(hi);
  const m = id > 0 && mem.kinds[id] === 'map' && lo === 0 ? maps[mem.owners[id] as number] : undefined;
  if (!m) throw new MachineFault(`${what}: R1 is not a map`, hi, lo);
  return m;
}
