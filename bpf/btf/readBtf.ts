import { ObjectFormatError } from '../ObjectFormatError.ts';
import { stringReader } from '../StringTable.ts';
import {
  BTF_FUNC_LINKAGE, BTF_INT_ENCODING, BTF_KIND, BTF_MAGIC, BTF_REF_KINDS, BTF_VAR_LINKAGE,
  type Btf, type BtfEnumValue, type BtfIntEncoding, type BtfKindName, type BtfMember, type BtfParam, type BtfRefKind, type BtfType, type BtfVarSecinfo,
  type FuncLinkage, type VarLinkage,
} from './kinds.ts';

const KIND_NAMES = Object.fromEntries(Object.entries(BTF_KIND).map(([k, v]) => [v, k])) as Record<number, BtfKindName>;
const INT_ENCODINGS = Object.fromEntries(Object.entries(BTF_INT_ENCODING).map(([k, v]) => [v, k])) as Record<number, BtfIntEncoding>;
const FUNC_LINKAGES = Object.fromEntries(Object.entries(BTF_FUNC_LINKAGE).map(([k, v]) => [v, k])) as Record<number, FuncLinkage>;
const VAR_LINKAGES = Object.fromEntries(Object.entries(BTF_VAR_LINKAGE).map(([k, v]) => [v, k])) as Record<number, VarLinkage>;
/** 1 at the kind numbers of BTF_REF_KINDS (a lookup per record, not a search of the names) */
const REF_KIND = new Uint8Array(32);
for (const k of BTF_REF_KINDS) REF_KIND[BTF_KIND[k]] = 1;

/**
 * Decodes a .BTF section (struct btf_header, then the type records, then the strings), little-endian.
 * @param section the section's name, for errors
 * @throws ObjectFormatError KPTR_OBJECT_MALFORMED naming the byte offset in the section where a record is bad
 */
export function readBtf(bytes: Uint8Array, section = '.BTF'): Btf {
  const fail = (offset: number, what: string): never => {
    throw new ObjectFormatError(section, offset, what);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) fail(0, `${bytes.length} bytes is too short for a BTF header`);
  if (view.getUint16(0, true) !== BTF_MAGIC) fail(0, `bad magic 0x${view.getUint16(0, true).toString(16)} (want 0xeb9f, little-endian)`);
  if (view.getUint8(2) !== 1) fail(2, `unsupported BTF version ${view.getUint8(2)}`);
  const hdrLen = view.getUint32(4, true);
  const [typeOff, typeLen, strOff, strLen] = [8, 12, 16, 20].map((o) => view.getUint32(o, true)) as [number, number, number, number];
  if (hdrLen < 24 || hdrLen > bytes.length) fail(4, `bad hdr_len ${hdrLen}`);
  if (hdrLen + typeOff + typeLen > bytes.length || typeOff % 4 !== 0) fail(8, `type section [${typeOff}, +${typeLen}) outside the ${bytes.length - hdrLen} bytes after the header`);
  if (hdrLen + strOff + strLen > bytes.length) fail(16, `string section [${strOff}, +${strLen}) outside the ${bytes.length - hdrLen} bytes after the header`);
  const strings = bytes.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
  if (strLen > 0 && strings[strLen - 1] !== 0) fail(hdrLen + strOff + strLen - 1, 'string section does not end in NUL');

  let at = hdrLen + typeOff;
  const end = at + typeLen;
  /** the largest type id any record refers to: checked against the count once, at the end */
  let maxRef = 0;
  const ref = (id: number): number => {
    if (id > maxRef) maxRef = id;
    return id;
  };
  const u32 = (): number => {
    if (at + 4 > end) fail(at, 'type record runs past the end of the type section');
    const v = view.getUint32(at, true);
    at += 4;
    return v;
  };
  const stringOf = stringReader(strings);
  const nameAt = (off: number, where: number): string => stringOf(off) ?? fail(where, `name offset ${off} outside the ${strLen}-byte string section`);
  const name = (where: number): string => nameAt(u32(), where);
  /** member names by offset: a few names recur in every struct, and each read would make a new string */
  const memberNames = new Map<number, string>();
  const memberName = (where: number): string => {
    const off = u32();
    let n = memberNames.get(off);
    if (n === undefined) memberNames.set(off, (n = nameAt(off, where)));
    return n;
  };
  const types: BtfType[] = [{ kind: 'VOID', name: '' }];
  /** where each type's record starts, for errors: sized for the most records the section can hold (12 bytes each) */
  const starts = new Int32Array(Math.floor(typeLen / 12) + 1);
  while (at < end) {
    const start = at;
    starts[types.length] = start;
    const n = name(start);
    const info = u32();
    const sizeOrType = u32();
    const kindNo = (info >>> 24) & 0x1f;
    const kind = KIND_NAMES[kindNo] ?? fail(start + 4, `type [${types.length}] has unknown kind ${kindNo}`);
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    if (REF_KIND[kindNo] === 1) {
      types.push({ kind: kind as BtfRefKind, name: n, type: ref(sizeOrType) });
      continue;
    }
    switch (kind) {
      case 'INT': {
        const word = u32();
        const encoding = INT_ENCODINGS[(word >>> 24) & 0x0f] ?? fail(start, `type [${types.length}] INT '${n}': unknown encoding ${(word >>> 24) & 0x0f}`);
        types.push({ kind, name: n, size: sizeOrType, bitsOffset: (word >>> 16) & 0xff, nrBits: word & 0xff, encoding });
        break;
      }
      case 'ARRAY':
        types.push({ kind, name: n, type: ref(u32()), indexType: ref(u32()), nelems: u32() });
        break;
      case 'STRUCT':
      case 'UNION': {
        // arrays of their exact length: one grown by push keeps 17 slots for a struct's 2 or 3 members
        const members = new Array<BtfMember>(vlen);
        for (let i = 0; i < vlen; i++) {
          const mName = memberName(at);
          const type = ref(u32());
          const off = u32();
          members[i] = { name: mName, type, bitOffset: kflag ? off & 0xffffff : off, bitfieldSize: kflag ? off >>> 24 : 0 };
        }
        types.push({ kind, name: n, size: sizeOrType, kflag, members });
        break;
      }
      case 'ENUM': {
        const values: BtfEnumValue[] = [];
        for (let i = 0; i < vlen; i++) {
          const vName = name(at);
          const raw = u32();
          values.push({ name: vName, val: kflag ? raw | 0 : raw });
        }
        types.push({ kind, name: n, size: sizeOrType, signed: kflag, values });
        break;
      }
      case 'ENUM64': {
        const values: BtfEnumValue[] = [];
        for (let i = 0; i < vlen; i++) {
          const vName = name(at);
          const lo = BigInt(u32());
          const v = (BigInt(u32()) << 32n) | lo;
          values.push({ name: vName, val: (kflag ? BigInt.asIntN(64, v) : v).toString() });
        }
        types.push({ kind, name: n, size: sizeOrType, signed: kflag, values });
        break;
      }
      case 'FWD':
        types.push({ kind, name: n, fwdKind: kflag ? 'union' : 'struct' });
        break;
      case 'FUNC':
        types.push({ kind, name: n, type: ref(sizeOrType), linkage: FUNC_LINKAGES[vlen] ?? fail(start, `type [${types.length}] FUNC '${n}': unknown linkage ${vlen}`) });
        break;
      case 'FUNC_PROTO': {
        const params: BtfParam[] = [];
        for (let i = 0; i < vlen; i++) params.push({ name: name(at), type: ref(u32()) });
        types.push({ kind, name: n, returnType: ref(sizeOrType), params });
        break;
      }
      case 'VAR': {
        const l = u32();
        types.push({ kind, name: n, type: ref(sizeOrType), linkage: VAR_LINKAGES[l] ?? fail(start, `type [${types.length}] VAR '${n}': unknown linkage ${l}`) });
        break;
      }
      case 'DATASEC': {
        const vars = new Array<BtfVarSecinfo>(vlen);
        for (let i = 0; i < vlen; i++) vars[i] = { type: ref(u32()), offset: u32(), size: u32() };
        types.push({ kind, name: n, size: sizeOrType, vars });
        break;
      }
      case 'FLOAT':
        types.push({ kind, name: n, size: sizeOrType });
        break;
      case 'DECL_TAG':
        types.push({ kind, name: n, type: ref(sizeOrType), componentIdx: u32() | 0 });
        break;
    }
  }
  const count = types.length;
  // only a bad reference needs the search for the first record holding one
  if (maxRef > count - 1) {
    types.forEach((t, id) => {
      const above = firstReferenceAbove(t, count - 1);
      if (above !== null) fail(starts[id] as number, `type [${id}] ${t.kind} '${t.name}' refers to type ${above}, but there are ${count - 1}`);
    });
  }
  return { types, strings };
}

/** The first type id a record refers to that is above `last`, or null (no array per record: objects hold thousands). */
function firstReferenceAbove(t: BtfType, last: number): number | null {
  if ('type' in t && t.type > last) return t.type;
  if (t.kind === 'ARRAY' && t.indexType > last) return t.indexType;
  if (t.kind === 'STRUCT' || t.kind === 'UNION') for (const m of t.members) if (m.type > last) return m.type;
  if (t.kind === 'FUNC_PROTO') {
    if (t.returnType > last) return t.returnType;
    for (const p of t.params) if (p.type > last) return p.type;
  }
  if (t.kind === 'DATASEC') for (const v of t.vars) if (v.type > last) return v.type;
  return null;
}
