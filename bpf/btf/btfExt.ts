import { ObjectFormatError } from '../ObjectFormatError.ts';
import { stringReader } from '../StringTable.ts';
import { BTF_MAGIC, BTF_VERSION, type Btf } from './kinds.ts';

/**
 * .BTF.ext (struct btf_ext_header, tools/lib/bpf/libbpf_internal.h; Documentation/bpf/btf.rst §4.2): per code
 * section, func_info (one per function), line_info (source lines) and CO-RE relocations.
 *
 * Offsets: every `insnOff` here is in BYTES from the start of its ELF section, as clang writes it. libbpf divides by 8
 * (the kernel's bpf_func_info.insn_off is an instruction index) and rebases it to the program that contains it
 * (adjust_prog_btf_ext_info), so for a program at byte `progOff` of its section, instruction = (insnOff - progOff) / 8.
 * Names (sections, files, source lines, CO-RE access strings) are offsets into the .BTF string section.
 */

/** struct bpf_func_info */
export interface FuncInfo {
  readonly insnOff: number;
  /** the FUNC type of the function starting there */
  readonly typeId: number;
}

/** struct bpf_line_info; line_col packs line << 10 | column */
export interface LineInfo {
  readonly insnOff: number;
  readonly fileName: string;
  /** the source line's text */
  readonly line: string;
  readonly lineNum: number;
  readonly lineCol: number;
}

/** enum bpf_core_relo_kind */
export const BPF_CORE_RELO_KIND = {
  FIELD_BYTE_OFFSET: 0, FIELD_BYTE_SIZE: 1, FIELD_EXISTS: 2, FIELD_SIGNED: 3, FIELD_LSHIFT_U64: 4, FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6, TYPE_ID_TARGET: 7, TYPE_EXISTS: 8, TYPE_SIZE: 9, ENUMVAL_EXISTS: 10, ENUMVAL_VALUE: 11, TYPE_MATCHES: 12,
} as const;
export type CoreReloKind = keyof typeof BPF_CORE_RELO_KIND;
const CORE_KINDS = Object.fromEntries(Object.entries(BPF_CORE_RELO_KIND).map(([k, v]) => [v, k])) as Record<number, CoreReloKind>;

/** struct bpf_core_relo */
export interface CoreRelo {
  readonly insnOff: number;
  /** the local (program BTF) type the access string starts from */
  readonly typeId: number;
  /** "0:1:2": member/array indices from typeId; "0" for type-based kinds */
  readonly accessStr: string;
  readonly kind: CoreReloKind;
}

/** One code section's records (struct btf_ext_info_sec). */
export interface BtfExtSection<T> {
  readonly section: string;
  readonly records: readonly T[];
}

export interface BtfExt {
  readonly funcInfo: readonly BtfExtSection<FuncInfo>[];
  readonly lineInfo: readonly BtfExtSection<LineInfo>[];
  readonly coreRelo: readonly BtfExtSection<CoreRelo>[];
}

const REC_SIZE = { funcInfo: 8, lineInfo: 16, coreRelo: 16 } as const;
const HDR_LEN = 24;
/** with core_relo_off/len */
const HDR_LEN_CORE = 32;

/**
 * Decodes .BTF.ext against its .BTF (for the names). Records larger than this reader's (newer formats) are read by
 * their known prefix, as libbpf does.
 * @throws ObjectFormatError KPTR_OBJECT_MALFORMED
 */
export function readBtfExt(bytes: Uint8Array, btf: Btf, section = '.BTF.ext'): BtfExt {
  const fail = (offset: number, what: string): never => {
    throw new ObjectFormatError(section, offset, what);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < HDR_LEN) fail(0, `${bytes.length} bytes is too short for a .BTF.ext header`);
  if (view.getUint16(0, true) !== BTF_MAGIC) fail(0, `bad magic 0x${view.getUint16(0, true).toString(16)}`);
  if (view.getUint8(2) !== BTF_VERSION) fail(2, `unsupported version ${view.getUint8(2)}`);
  const hdrLen = view.getUint32(4, true);
  if (hdrLen < HDR_LEN || hdrLen > bytes.length) fail(4, `bad hdr_len ${hdrLen}`);
  const stringOf = stringReader(btf.strings);
  const str = (off: number, at: number): string => stringOf(off) ?? fail(at, `string offset ${off} outside the .BTF string section`);

  const part = <T>(field: number, minRec: number, what: string, record: (at: number) => T): BtfExtSection<T>[] => {
    if (hdrLen < field + 8) return [];
    const off = view.getUint32(field, true);
    const len = view.getUint32(field + 4, true);
    if (len === 0) return [];
    let at = hdrLen + off;
    const end = at + len;
    if (end > bytes.length || len < 4) fail(field, `${what} [${off}, +${len}) outside the section`);
    const recSize = view.getUint32(at, true);
    if (recSize < minRec || recSize % 4 !== 0) fail(at, `${what} rec_size ${recSize} (want >= ${minRec})`);
    at += 4;
    const out: BtfExtSection<T>[] = [];
    while (at < end) {
      if (at + 8 > end) fail(at, `${what}: truncated btf_ext_info_sec`);
      const name = str(view.getUint32(at, true), at);
      const n = view.getUint32(at + 4, true);
      at += 8;
      if (at + n * recSize > end) fail(at, `${what} of ${name}: ${n} records of ${recSize} bytes run past the end`);
      const records: T[] = [];
      for (let i = 0; i < n; i++) records.push(record(at + i * recSize));
      out.push({ section: name, records });
      at += n * recSize;
    }
    return out;
  };
  const u32 = (at: number): number => view.getUint32(at, true);
  return {
    funcInfo: part(8, REC_SIZE.funcInfo, 'func_info', (at) => ({ insnOff: u32(at), typeId: u32(at + 4) })),
    lineInfo: part(16, REC_SIZE.lineInfo, 'line_info', (at) => ({
      insnOff: u32(at), fileName: str(u32(at + 4), at + 4), line: str(u32(at + 8), at + 8), lineNum: u32(at + 12) >>> 10, lineCol: u32(at + 12) & 0x3ff,
    })),
    coreRelo: part(24, REC_SIZE.coreRelo, 'core_relo', (at) => ({
      insnOff: u32(at), typeId: u32(at + 4), accessStr: str(u32(at + 8), at + 8), kind: CORE_KINDS[u32(at + 12)] ?? fail(at + 12, `unknown CO-RE relocation kind ${u32(at + 12)}`),
    })),
  };
}

/**
 * Encodes .BTF.ext; `str` gives a string's offset in the .BTF string section (BtfWriter.str). Parts with no sections
 * are left out (length 0); the header has core_relo_off/len only when there are CO-RE relocations.
 */
export function writeBtfExt(ext: BtfExt, str: (s: string) => number): Uint8Array {
  // all words in one list, each part's length noted (no list per record or per section)
  const words: number[] = [];
  const encode = <T>(sections: readonly BtfExtSection<T>[], recSize: number, record: (r: T) => void): number => {
    const start = words.length;
    if (sections.length > 0) words.push(recSize);
    for (const s of sections) {
      words.push(str(s.section), s.records.length);
      for (const r of s.records) record(r);
    }
    return (words.length - start) * 4;
  };
  const func = encode(ext.funcInfo, REC_SIZE.funcInfo, (r) => words.push(r.insnOff, r.typeId));
  const line = encode(ext.lineInfo, REC_SIZE.lineInfo, (r) => words.push(r.insnOff, str(r.fileName), str(r.line), (r.lineNum << 10) | r.lineCol));
  const core = encode(ext.coreRelo, REC_SIZE.coreRelo, (r) => words.push(r.insnOff, r.typeId, str(r.accessStr), BPF_CORE_RELO_KIND[r.kind]));
  const hdrLen = core > 0 ? HDR_LEN_CORE : HDR_LEN;
  const out = new Uint8Array(hdrLen + words.length * 4);
  const view = new DataView(out.buffer);
  view.setUint16(0, BTF_MAGIC, true);
  view.setUint8(2, BTF_VERSION);
  view.setUint32(4, hdrLen, true);
  const lens = hdrLen === HDR_LEN ? [func, line] : [func, line, core];
  let off = 0;
  lens.forEach((len, i) => {
    view.setUint32(8 + i * 8, off, true);
    view.setUint32(12 + i * 8, len, true);
    off += len;
  });
  for (let i = 0; i < words.length; i++) view.setUint32(hdrLen + i * 4, words[i]! >>> 0, true);
  return out;
}
