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
  /** one record per type, index = id - 1 */
  private readonly records: number[][] = [];
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
    if (id === undefined) this.ints.set(name, (id = this.add(name, KIND.INT, 0, bytes, ((signed ? BTF_INT_ENCODING.SIGNED : 0) << 24) | (bytes * 8))));
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
    if (id === undefined) byCount.set(count, (id = this.add('', KIND.ARRAY, 0, 0, elem, index, count)));
    return id;
  }

  /** A struct (name '' for anonymous); members in order, offsets in bits. Its members' names are added to the strings before its own. */
  struct(name: string, size: number, members: readonly BtfWriterMember[]): number {
    const r = [0, info(KIND.STRUCT, members.length), size];
    this.pushMembers(r, members);
    r[0] = this.str(name);
    this.records.push(r);
    return this.records.length;
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
      const r = [this.str(''), info(KIND.FUNC_PROTO, params.length), ret];
      for (const p of params) r.push(this.str(p.name), p.type);
      this.records.push(r);
      return this.records.length;
    });
  }

  func(name: string, proto: number, linkage: FuncLinkage): number {
    return this.add(name, KIND.FUNC, BTF_FUNC_LINKAGE[linkage], proto);
  }

  variable(name: string, type: number, linkage: VarLinkage): number {
    return this.add(name, KIND.VAR, 0, type, BTF_VAR_LINKAGE[linkage]);
  }

  datasec(name: string, size: number, vars: readonly BtfVarSecinfo[]): number {
    const r = [this.str(name), info(KIND.DATASEC, vars.length), size];
    for (const v of vars) r.push(v.type, v.offset, v.size);
    this.records.push(r);
    return this.records.length;
  }

  /** Fills a struct reserved with reserveStruct (its name is added to the strings before its members'). */
  defineStruct(id: number, name: string, size: number, members: readonly BtfWriterMember[]): void {
    if (this.records[id - 1]?.[2] !== RESERVED) throw new Error(`BTF id ${id} is not a reserved struct`);
    const r = [this.str(name), info(KIND.STRUCT, members.length), size];
    this.pushMembers(r, members);
    this.records[id - 1] = r;
  }

  private pushMembers(r: number[], members: readonly BtfWriterMember[]): void {
    for (const m of members) r.push(this.str(m.name), m.type, m.bitOffset);
  }

  /** The .BTF section: header, types, strings. */
  encode(): Uint8Array {
    let nWords = 0;
    for (const r of this.records) nWords += r.length;
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
    if (HOST_LE) {
      // the records as 32-bit words in place (a DataView call per word was most of encoding)
      const words = new Uint32Array(out.buffer, 24, nWords);
      let at = 0;
      for (const r of this.records) for (let k = 0; k < r.length; k++) words[at++] = r[k]!;
    } else {
      let at = 24;
      for (const r of this.records) for (let k = 0; k < r.length; k++, at += 4) view.setUint32(at, r[k]! >>> 0, true);
    }
    out.set(strings, 24 + typeBytes);
    return out;
  }

  /** a record of the common header and the few words after it (the kinds with a list build theirs in a loop) */
  private add(name: string, kind: number, vlen: number, sizeOrType: number, ...extra: number[]): number {
    this.records.push([this.str(name), info(kind, vlen), sizeOrType, ...extra]);
    return this.records.length;
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
