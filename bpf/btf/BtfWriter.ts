import { StringTable } from '../StringTable.ts';
import { HOST_LE } from '../asm/insn.ts';
import { BTF_FUNC_LINKAGE, BTF_INT_ENCODING, BTF_KIND as KIND, BTF_MAGIC, BTF_VAR_LINKAGE, BTF_VERSION, type BtfMember, type BtfVarSecinfo, type FuncLinkage, type VarLinkage } from './kinds.ts';

/**
 * A BTF writer (include/uapi/linux/btf.h, Documentation/bpf/btf.rst): types are appended one by one and
 * get ids in order (0 is void); structurally equal anonymous types are shared, as clang shares them.
 */

/** size of a struct reserved but not yet defined (no real struct is that large) */
const RESERVED = 0xffffffff;

/** A struct member as the writer takes it (no bitfields). */
export type BtfWriterMember = Pick<BtfMember, 'name' | 'type' | 'bitOffset'>;

export class BtfWriter {
  /**
   * every record's words in id order, appended to one growing buffer (no array per type); a reserved struct keeps its
   * placeholder here, its definition is in `defined`
   */
  private words = new Uint32Array(4096);
  private used = 0;
  /** where each record starts in `words`, index = id - 1 */
  private readonly starts: number[] = [];
  /** the records of reserved structs once defined, by id */
  private readonly defined = new Map<number, number[]>();
  private readonly strings = new StringTable();
  private readonly shared = new Map<string, number>();
  // the shared types made per scenario, keyed by what they are made of rather than by a string built per call
  private readonly ptrs = new Map<number, number>();
  private readonly ints = new Map<string, number>();
  private readonly tags = new Map<string, Map<number, number>>();
  private readonly arrays = new Map<number, Map<number, number>>();

  /** Offset of `s` in the string section (also used by .BTF.ext for section names). */
  str(s: string): number {
    return this.strings.add(s);
  }

  int(name: string, bytes: number, signed: boolean): number {
    let id = this.ints.get(name);
    if (id === undefined) {
      this.ints.set(name, (id = this.add(name, KIND.INT, 0, bytes, 1)));
      this.put1(((signed ? BTF_INT_ENCODING.SIGNED : 0) << 24) | (bytes * 8));
    }
    return id;
  }

  ptr(target: number): number {
    let id = this.ptrs.get(target);
    if (id === undefined) this.ptrs.set(target, (id = this.add('', KIND.PTR, 0, target)));
    return id;
  }

  typedef(name: string, target: number): number {
    return this.once(`typedef:${name}`, () => this.add(name, KIND.TYPEDEF, 0, target));
  }

  const(target: number): number {
    return this.once(`const:${target}`, () => this.add('', KIND.CONST, 0, target));
  }

  volatile(target: number): number {
    return this.once(`volatile:${target}`, () => this.add('', KIND.VOLATILE, 0, target));
  }

  typeTag(tag: string, target: number): number {
    let byTarget = this.tags.get(tag);
    if (byTarget === undefined) this.tags.set(tag, (byTarget = new Map()));
    let id = byTarget.get(target);
    if (id === undefined) byTarget.set(target, (id = this.add(tag, KIND.TYPE_TAG, 0, target)));
    return id;
  }

  /** An array of `count` elements of `elem`, indexed by clang's `__ARRAY_SIZE_TYPE__`. */
  array(elem: number, count: number): number {
    const index = this.int('__ARRAY_SIZE_TYPE__', 4, false);
    let byCount = this.arrays.get(elem);
    if (byCount === undefined) this.arrays.set(elem, (byCount = new Map()));
    let id = byCount.get(count);
    if (id === undefined) {
      byCount.set(count, (id = this.add('', KIND.ARRAY, 0, 0, 3)));
      this.put(elem, index, count);
    }
    return id;
  }

  /** A struct (name '' for anonymous); members in order, offsets in bits. Its members' names are added to the strings before its own. */
  struct(name: string, size: number, members: readonly BtfWriterMember[]): number {
    const id = this.begin(3 + 3 * members.length);
    const at = this.used;
    this.used += 3;
    for (const m of members) this.put(this.str(m.name), m.type, m.bitOffset);
    this.words[at] = this.str(name);
    this.words[at + 1] = info(KIND.STRUCT, members.length);
    this.words[at + 2] = size;
    return id;
  }

  /** A forward declaration `struct name;` (kind_flag 0: a struct, not a union). */
  fwd(name: string): number {
    return this.once(`fwd:${name}`, () => this.add(name, KIND.FWD, 0, 0));
  }

  /** Reserves an id for a struct whose members refer to it or to structs defined later; fill it with defineStruct. */
  reserveStruct(): number {
    return this.add('', KIND.STRUCT, 0, RESERVED);
  }

  funcProto(ret: number, params: readonly { readonly name: string; readonly type: number }[]): number {
    const key = `proto:${ret}:${params.map((p) => `${p.name}=${p.type}`).join(',')}`;
    return this.once(key, () => {
      const id = this.begin(3 + 2 * params.length);
      this.put(this.str(''), info(KIND.FUNC_PROTO, params.length), ret);
      for (const p of params) this.put2(this.str(p.name), p.type);
      return id;
    });
  }

  func(name: string, proto: number, linkage: FuncLinkage): number {
    return this.add(name, KIND.FUNC, BTF_FUNC_LINKAGE[linkage], proto);
  }

  variable(name: string, type: number, linkage: VarLinkage): number {
    const id = this.add(name, KIND.VAR, 0, type, 1);
    this.put1(BTF_VAR_LINKAGE[linkage]);
    return id;
  }

  datasec(name: string, size: number, vars: readonly BtfVarSecinfo[]): number {
    const id = this.begin(3 + 3 * vars.length);
    this.put(this.str(name), info(KIND.DATASEC, vars.length), size);
    for (const v of vars) this.put(v.type, v.offset, v.size);
    return id;
  }

  /** Fills a struct reserved with reserveStruct (its name is added to the strings before its members'). */
  defineStruct(id: number, name: string, size: number, members: readonly BtfWriterMember[]): void {
    const at = this.starts[id - 1];
    if (at === undefined || this.words[at + 2] !== RESERVED || this.defined.has(id)) throw new Error(`BTF id ${id} is not a reserved struct`);
    const r = [this.str(name), info(KIND.STRUCT, members.length), size];
    for (const m of members) r.push(this.str(m.name), m.type, m.bitOffset);
    this.defined.set(id, r);
  }

  /** The .BTF section: header, types, strings. */
  encode(): Uint8Array {
    // a defined struct's record in place of its 3-word placeholder
    let nWords = this.used;
    for (const r of this.defined.values()) nWords += r.length - 3;
    const typeBytes = nWords * 4;
    const strings = this.strings.bytes();
    const strBytes = strings.length;
    const out = new Uint8Array(24 + typeBytes + strBytes);
    const view = new DataView(out.buffer);
    view.setUint16(0, BTF_MAGIC, true);
    view.setUint8(2, BTF_VERSION);
    view.setUint8(3, 0); // flags
    view.setUint32(4, 24, true); // hdr_len
    view.setUint32(8, 0, true); // type_off
    view.setUint32(12, typeBytes, true);
    view.setUint32(16, typeBytes, true); // str_off
    view.setUint32(20, strBytes, true);
    // the records in order, each defined struct's in place of its placeholder (copied by loops: a typed array made per
    // run cost more than the copy)
    const types = HOST_LE ? new Uint32Array(out.buffer, 24, nWords) : new Uint32Array(nWords);
    const words = this.words;
    let pos = 0;
    let from = 0;
    for (const id of [...this.defined.keys()].sort((x, y) => x - y)) {
      const start = this.starts[id - 1]!;
      for (let k = from; k < start; k++) types[pos++] = words[k]!;
      const r = this.defined.get(id)!;
      for (let k = 0; k < r.length; k++) types[pos++] = r[k]!;
      from = start + 3;
    }
    for (let k = from; k < this.used; k++) types[pos++] = words[k]!;
    if (!HOST_LE) for (let k = 0; k < nWords; k++) view.setUint32(24 + 4 * k, types[k]!, true);
    out.set(strings, 24 + typeBytes);
    return out;
  }

  /** a record of the common header, `extra` words to follow it (put by the caller); its id */
  private add(name: string, kind: number, vlen: number, sizeOrType: number, extra = 0): number {
    const nameOff = this.str(name);
    const id = this.begin(3 + extra);
    this.put(nameOff, info(kind, vlen), sizeOrType);
    return id;
  }

  /** starts the next record, with room for its `n` words; its id */
  private begin(n: number): number {
    if (this.used + n > this.words.length) {
      const grown = new Uint32Array(Math.max(2 * this.words.length, this.used + n));
      grown.set(this.words.subarray(0, this.used));
      this.words = grown;
    }
    this.starts.push(this.used);
    return this.starts.length;
  }

  /** the next words of the record being written (room made by begin) */
  private put(a: number, b: number, c: number): void {
    this.words[this.used] = a;
    this.words[this.used + 1] = b;
    this.words[this.used + 2] = c;
    this.used += 3;
  }

  private put2(a: number, b: number): void {
    this.words[this.used] = a;
    this.words[this.used + 1] = b;
    this.used += 2;
  }

  private put1(a: number): void {
    this.words[this.used++] = a;
  }

  /** The id `make` gave for `key` the first time; later calls with the same key get it again (shared types). */
  once(key: string, make: () => number): number {
    const known = this.shared.get(key);
    if (known !== undefined) return known;
    const id = make();
    this.shared.set(key, id);
    return id;
  }
}

function info(kind: number, vlen: number): number {
  return ((kind << 24) | vlen) >>> 0;
}
