/**
 * The emulated kernel's memory: regions (a stack frame, a map value, one CPU's copy of a per-CPU object, ...) behind
 * 64-bit tagged addresses. An address is `hi:lo` 32-bit halves; `hi` is TAG | region id, `lo` the byte offset, so a
 * pointer stays a plain 8-byte integer in memory (kptr_xchg is an 8-byte swap) and looks like a kernel address
 * (0xff00_0001_0000_0010). NULL is 0. Pointer arithmetic that leaves a region changes `hi` or runs past its size,
 * and the next access faults: every access is checked for region, liveness, bounds and writability.
 *
 * Regions live in one growing arena (one ArrayBuffer, one DataView), so a region costs a few numbers and no objects:
 * programs allocate on most runs, and per-region buffers were most of the machine's time in GC.
 */

/** High 8 bits of every region address: region ids live in the 24 bits below. */
const TAG = 0xff000000 | 0;
const MAX_REGIONS = 1 << 24;
/** the arena's ceiling: an allocation past it fails as the kernel's allocator does (NULL) */
const MAX_ARENA = 1 << 30;

/** What a region holds; named in faults. */
export type RegionKind = 'stack' | 'ctx' | 'map' | 'map_value' | 'global' | 'obj' | 'percpu_obj' | 'percpu_data' | 'test_mem' | 'task' | 'css_set' | 'cgroup';

/**
 * A region's life: `live`; `rcu` — freed during this run (bpf_mem_free_rcu) and still valid for RCU readers until the
 * grace period that ends the run; `freed` — after that grace period, any access is a use after free.
 */
export const LIVE = 1, RCU_FREED = 2, FREED = 0;

/**
 * Why an access or a call failed: thrown inside the machine (helpers, kfuncs, memory) and turned into an Oops (plain
 * data) by the interpreter, which is the only place that catches it. `hi`/`lo` is the faulting address, or null.
 */
export class MachineFault {
  constructor(
    readonly why: string,
    readonly hi: number | null = null,
    readonly lo: number = 0,
  ) {}
}

/** A region table's numeric columns, indexed by region id (0 unused: NULL); grown by doubling. */
interface Columns {
  base: Int32Array;
  size: Int32Array;
  /** CPU a region belongs to (per-CPU copies), else -1; part of its name in faults */
  cpus: Int32Array;
  states: Int32Array;
  writable: Uint8Array;
  /** owner index (a map's index, an object's id) for helpers that need to know */
  owners: Int32Array;
}

function columns(n: number): Columns {
  return { base: new Int32Array(n), size: new Int32Array(n), cpus: new Int32Array(n), states: new Int32Array(n), writable: new Uint8Array(n), owners: new Int32Array(n) };
}

/**
 * Arenas and region tables of freed machines, handed to the next machine of this thread: a campaign loads one
 * machine per object, and allocating (then growing) a fresh multi-megabyte arena and tables of tens of thousands of
 * regions each time was a large share of the machine's GC and page faults. Only arenas up to SPARE_MAX_BYTES are
 * kept, at most SPARE_ARENAS of them.
 */
const spareArenas: ArrayBuffer[] = [];
const spareColumns: Columns[] = [];
/** kind and name tables of freed machines, emptied (an id past the next machine's regions names nothing) */
const spareTables: { readonly kinds: (RegionKind | undefined)[]; readonly labels: (string | number | undefined)[] }[] = [];
const SPARE_ARENAS = 2;
const SPARE_MAX_BYTES = 64 << 20;

/**
 * Regions the last released AddressSpace of this thread held: the next one's kind and label tables are made that
 * long (a campaign object's machine holds thousands of regions, and tables grown by push were a share of its garbage)
 */
let regionsHint = 1 << 10;
/** a machine that held more starts its successor at this (a table slot is 8 bytes) */
const MAX_REGIONS_HINT = 1 << 16;

/** a table of `n` holes with `first` at index 0 */
function table<T>(n: number, first: T): T[] {
  const t = new Array<T>(n);
  t[0] = first;
  return t;
}

export class AddressSpace {
  /** zero beyond `top` (an arena is zeroed when released): a new region reads 0 without a write */
  private buffer = spareArenas.pop() ?? new ArrayBuffer(1 << 16);
  /** the whole arena; replaced (contents copied) when the arena grows, so never keep it across an allocation */
  view = new DataView(this.buffer);
  private top = 0;
  /** regions so far, the NULL one included; columns past it hold stale values */
  private count = 1;
  private cols = spareColumns.pop() ?? columns(1 << 10);
  private readonly tables = spareTables.pop() ?? { kinds: table<RegionKind | undefined>(regionsHint, 'stack'), labels: table<string | number | undefined>(regionsHint, '') };
  /** by region id; undefined past the last region (holes of a table made at its expected length) */
  readonly kinds = this.tables.kinds;
  /** a region's name, or the id of the heap object it belongs to (named by `objectLabel` only when a fault needs it) */
  private readonly labels = this.tables.labels;
  /** names heap objects' regions from the object id their label holds (the Heap's, set when it is made) */
  objectLabel: (objectId: number, kind: RegionKind) => string = (objectId) => `object #${objectId}`;

  /** a region's life (LIVE, RCU_FREED, FREED), by id; valid for ids below the region count */
  get states(): Int32Array {
    return this.cols.states;
  }

  /** per region: owner index (a map's index, an object's id) for helpers that need to know */
  get owners(): Int32Array {
    return this.cols.owners;
  }

  /**
   * A new zeroed region of `size` bytes (or holding `init`); returns its id, or -1 when the arena is full. `label`
   * is its name in faults, or a heap object's id (no string built per allocation: most are never named).
   */
  add(kind: RegionKind, label: string | number, size: number | Uint8Array, writable = true, owner = -1, cpu = -1): number {
    const id = this.count;
    const n = typeof size === 'number' ? size : size.length;
    const at = (this.top + 7) & ~7;
    if (id >= MAX_REGIONS || at + n > MAX_ARENA) return -1;
    if (at + n > this.buffer.byteLength) this.grow(at + n);
    this.top = at + n;
    if (typeof size !== 'number') new Uint8Array(this.buffer, at, n).set(size);
    if (id >= this.cols.base.length) this.growColumns();
    const c = this.cols;
    c.base[id] = at;
    c.size[id] = n;
    c.cpus[id] = cpu;
    c.states[id] = LIVE;
    c.writable[id] = writable ? 1 : 0;
    c.owners[id] = owner;
    this.kinds[id] = kind;
    this.labels[id] = label;
    this.count = id + 1;
    return id;
  }

  private growColumns(): void {
    const next = columns(this.cols.base.length * 2);
    for (const k of Object.keys(next) as (keyof Columns)[]) next[k].set(this.cols[k]);
    this.cols = next;
  }

  /** doubles the arena (a resizable ArrayBuffer reserving the ceiling up front cost more in GC than the copies) */
  private grow(atLeast: number): void {
    const next = new ArrayBuffer(Math.min(MAX_ARENA, Math.max(atLeast, this.buffer.byteLength * 2)));
    new Uint8Array(next).set(new Uint8Array(this.buffer));
    this.buffer = next;
    this.view = new DataView(next);
  }

  /**
   * Hands the arena and region table to the next AddressSpace of this thread (the arena zeroed up to the high-water
   * mark). Nothing may be read or written here afterwards: the view is empty, so any access throws (a RangeError,
   * the caller's mistake).
   */
  release(): void {
    if (this.buffer.byteLength === 0) return;
    regionsHint = Math.min(this.count, MAX_REGIONS_HINT);
    new Uint8Array(this.buffer, 0, this.top).fill(0);
    if (spareArenas.length < SPARE_ARENAS && this.buffer.byteLength <= SPARE_MAX_BYTES) {
      spareArenas.push(this.buffer);
      spareColumns.push(this.cols);
      this.kinds.fill(undefined, 1, this.count);
      this.labels.fill(undefined, 1, this.count);
      spareTables.push(this.tables);
    }
    this.buffer = new ArrayBuffer(0);
    this.view = new DataView(this.buffer);
    this.cols = columns(1);
    this.count = 1;
  }

  /** Makes a region live again (reused memory: its bytes are kept). */
  revive(id: number): void {
    this.states[id] = LIVE;
  }

  /** the region's name in faults: `map s1_array value [0]`, `per-CPU object #3 (struct t) cpu 1` */
  label(id: number): string {
    const cpu = this.cols.cpus[id] as number;
    const l = this.labels[id] as string | number;
    const name = typeof l === 'number' ? this.objectLabel(l, this.kinds[id] as RegionKind) : l;
    return cpu < 0 ? name : `${name} cpu ${cpu}`;
  }

  /** byte offset of a region in `view` */
  baseOf(id: number): number {
    return this.cols.base[id] as number;
  }

  sizeOf(id: number): number {
    return this.cols.size[id] as number;
  }

  /** a region's bytes (a view: writes go to the region) */
  bytes(id: number): Uint8Array {
    return new Uint8Array(this.buffer, this.cols.base[id], this.cols.size[id]);
  }

  static hiOf(id: number): number {
    return TAG | id;
  }

  /** region id of an address's high half, or -1 when it is not a region address */
  static idOf(hi: number): number {
    return (hi & 0xff000000) === TAG ? hi & 0xffffff : -1;
  }

  /** the arena offset of an access of `size` bytes at hi:lo, or a thrown MachineFault */
  at(hi: number, lo: number, size: number, write: boolean): number {
    const id = (hi & 0xff000000) === TAG ? hi & 0xffffff : -1;
    const off = lo >>> 0;
    if (id <= 0 || id >= this.count) {
      throw new MachineFault(hi === 0 && off < 4096 ? 'NULL pointer dereference' : 'not a mapped address', hi, lo);
    }
    const c = this.cols;
    if (c.states[id] === FREED) throw new MachineFault(`use after free of ${this.label(id)} (freed in an earlier run)`, hi, lo);
    const n = c.size[id] as number;
    if (off + size > n) throw new MachineFault(`${size}-byte access at offset ${off} is out of bounds of ${this.label(id)} (${n} bytes)`, hi, lo);
    if (write && c.writable[id] === 0) throw new MachineFault(`write to read-only ${this.label(id)}`, hi, lo);
    return (c.base[id] as number) + off;
  }

  /** the bytes of a checked access, for helpers that copy */
  slice(hi: number, lo: number, size: number, write: boolean): Uint8Array {
    return new Uint8Array(this.buffer, this.at(hi, lo, size, write), size);
  }

  /** zero-extended load of 1, 2 or 4 bytes */
  load32(hi: number, lo: number, size: 1 | 2 | 4): number {
    const a = this.at(hi, lo, size, false);
    return size === 4 ? this.view.getInt32(a, true) : size === 2 ? this.view.getUint16(a, true) : this.view.getUint8(a);
  }

  /** the two halves of an 8-byte load, into out[0] (lo) and out[1] (hi) */
  load64(hi: number, lo: number, out: Int32Array): void {
    const a = this.at(hi, lo, 8, false);
    out[0] = this.view.getInt32(a, true);
    out[1] = this.view.getInt32(a + 4, true);
  }

  store32(hi: number, lo: number, size: 1 | 2 | 4, value: number): void {
    const a = this.at(hi, lo, size, true);
    if (size === 4) this.view.setInt32(a, value, true);
    else if (size === 2) this.view.setUint16(a, value & 0xffff, true);
    else this.view.setUint8(a, value & 0xff);
  }

  store64(hi: number, lo: number, vlo: number, vhi: number): void {
    const a = this.at(hi, lo, 8, true);
    this.view.setInt32(a, vlo, true);
    this.view.setInt32(a + 4, vhi, true);
  }
}

/** `0xff00000100000010`: an address as the kernel prints one. */
export function formatAddress(hi: number, lo: number): string {
  return `0x${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}
