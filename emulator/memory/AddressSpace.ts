/**
 * The emulated kernel's memory: regions (a stack frame, a map value, one CPU's copy of a per-CPU object, ...) behind
 * 64-bit tagged addresses. An address is `hi:lo` 32-bit halves; `hi` is TAG | region id, `lo` the byte offset, so a
 * pointer stays a plain 8-byte integer in memory (kptr_xchg is an 8-byte swap) and looks like a kernel address
 * (0xff00_0001_0000_0010). NULL is 0. Pointer arithmetic that leaves a region changes `hi` or runs past its size,
 * and the next access faults: every access is checked for region, liveness, bounds and writability.
 */

/** High 8 bits of every region address: region ids live in the 24 bits below. */
const TAG = 0xff000000 | 0;
const MAX_REGIONS = 1 << 24;

/** What a region holds; named in faults. */
export type RegionKind = 'stack' | 'ctx' | 'map' | 'map_value' | 'global' | 'obj' | 'percpu_obj' | 'percpu_data' | 'test_mem';

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

export class AddressSpace {
  /** indexed by region id (0 unused: NULL) */
  readonly bytes: (Uint8Array | null)[] = [null];
  readonly views: (DataView | null)[] = [null];
  readonly kinds: RegionKind[] = ['stack'];
  readonly labels: string[] = [''];
  readonly states: number[] = [FREED];
  readonly writable: boolean[] = [false];
  /** per region: owner index (a map's index, an object's id) for helpers that need to know */
  readonly owners: number[] = [-1];

  /** A new zeroed (or given) region; returns its id. */
  add(kind: RegionKind, label: string, size: number | Uint8Array, writable = true, owner = -1): number {
    const id = this.bytes.length;
    if (id >= MAX_REGIONS) throw new RangeError('emulator: out of region ids');
    const b = typeof size === 'number' ? new Uint8Array(size) : size;
    this.bytes.push(b);
    this.views.push(new DataView(b.buffer, b.byteOffset, b.byteLength));
    this.kinds.push(kind);
    this.labels.push(label);
    this.states.push(LIVE);
    this.writable.push(writable);
    this.owners.push(owner);
    return id;
  }

  /** Makes a region live again (reused memory: its bytes are kept). */
  revive(id: number): void {
    this.states[id] = LIVE;
  }

  static hiOf(id: number): number {
    return TAG | id;
  }

  /** region id of an address's high half, or -1 when it is not a region address */
  static idOf(hi: number): number {
    return (hi & 0xff000000) === TAG ? hi & 0xffffff : -1;
  }

  /** the region id and offset of an access of `size` bytes at hi:lo, or a thrown MachineFault */
  private check(hi: number, lo: number, size: number, write: boolean): number {
    const id = AddressSpace.idOf(hi);
    const off = lo >>> 0;
    if (id <= 0 || id >= this.bytes.length) {
      throw new MachineFault(hi === 0 && off < 4096 ? 'NULL pointer dereference' : 'not a mapped address', hi, lo);
    }
    const state = this.states[id] as number;
    if (state === FREED) throw new MachineFault(`use after free of ${this.labels[id]} (freed in an earlier run)`, hi, lo);
    const b = this.bytes[id] as Uint8Array;
    if (off + size > b.length) throw new MachineFault(`${size}-byte access at offset ${off} is out of bounds of ${this.labels[id]} (${b.length} bytes)`, hi, lo);
    if (write && !this.writable[id]) throw new MachineFault(`write to read-only ${this.labels[id]}`, hi, lo);
    return id;
  }

  /** the region's bytes and the offset of a checked access, for helpers that copy */
  slice(hi: number, lo: number, size: number, write: boolean): Uint8Array {
    const id = this.check(hi, lo, size, write);
    const off = lo >>> 0;
    return (this.bytes[id] as Uint8Array).subarray(off, off + size);
  }

  /** zero-extended load of 1, 2 or 4 bytes */
  load32(hi: number, lo: number, size: 1 | 2 | 4): number {
    const v = this.views[this.check(hi, lo, size, false)] as DataView;
    const off = lo >>> 0;
    return size === 4 ? v.getInt32(off, true) : size === 2 ? v.getUint16(off, true) : v.getUint8(off);
  }

  /** the two halves of an 8-byte load, into out[0] (lo) and out[1] (hi) */
  load64(hi: number, lo: number, out: Int32Array): void {
    const v = this.views[this.check(hi, lo, 8, false)] as DataView;
    const off = lo >>> 0;
    out[0] = v.getInt32(off, true);
    out[1] = v.getInt32(off + 4, true);
  }

  store32(hi: number, lo: number, size: 1 | 2 | 4, value: number): void {
    const v = this.views[this.check(hi, lo, size, true)] as DataView;
    const off = lo >>> 0;
    if (size === 4) v.setInt32(off, value, true);
    else if (size === 2) v.setUint16(off, value & 0xffff, true);
    else v.setUint8(off, value & 0xff);
  }

  store64(hi: number, lo: number, vlo: number, vhi: number): void {
    const v = this.views[this.check(hi, lo, 8, true)] as DataView;
    const off = lo >>> 0;
    v.setInt32(off, vlo, true);
    v.setInt32(off + 4, vhi, true);
  }

  /** the region an address points into when it is live or RCU-readable, else -1 (no fault) */
  regionAt(hi: number, lo: number): number {
    const id = AddressSpace.idOf(hi);
    if (id <= 0 || id >= this.bytes.length || this.states[id] === FREED) return -1;
    return (lo >>> 0) < (this.bytes[id] as Uint8Array).length || (lo === 0) ? id : -1;
  }
}

/** `0xff00000100000010`: an address as the kernel prints one. */
export function formatAddress(hi: number, lo: number): string {
  return `0x${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}
