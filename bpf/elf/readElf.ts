import { ObjectFormatError } from '../ObjectFormatError.ts';
import { stringReader } from '../StringTable.ts';
import {
  ELF_HEADER_SIZE, EM_BPF, ET_REL, R_BPF, REL_SIZE, SECTION_HEADER_SIZE, SHN_UNDEF, SHT, STB, STT, STV, SYMBOL_SIZE,
  type RelocationType, type SymbolBind, type SymbolType, type SymbolVisibility,
} from './elfAbi.ts';

/** One section header (Elf64_Shdr) with its name and contents. */
export interface ElfSectionHeader {
  readonly index: number;
  readonly name: string;
  /** sh_type (SHT) */
  readonly type: number;
  /** sh_flags (SHF) */
  readonly flags: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly align: number;
  readonly entsize: number;
  /** the contents; empty for SHT_NOBITS (.bss) */
  readonly bytes: Uint8Array;
}

/** One Elf64_Sym. */
export interface ElfSymbolEntry {
  readonly index: number;
  readonly name: string;
  readonly value: number;
  readonly size: number;
  readonly type: SymbolType;
  readonly bind: SymbolBind;
  readonly visibility: SymbolVisibility;
  /** st_shndx: 0 (SHN_UNDEF) for an extern */
  readonly sectionIndex: number;
  /** the name of that section, or null when undefined or special (SHN_ABS, ...) */
  readonly section: string | null;
}

/** One Elf64_Rel. */
export interface ElfRelocationEntry {
  /** byte offset in the target section */
  readonly offset: number;
  readonly type: RelocationType;
  /** index into ElfFile.symbols */
  readonly symbol: number;
}

/**
 * A SHT_REL section's entries, grouped by the section they patch, as columns indexed by entry (objects hold thousands
 * of relocations: an object per entry was a large share of a load's garbage); relocationEntries gives them as rows.
 */
export interface ElfRelocationSection {
  /** the SHT_REL section's own name, e.g. `.reltc` */
  readonly name: string;
  /** sh_info: the patched section, e.g. `tc` */
  readonly target: string;
  readonly targetIndex: number;
  /** per entry: r_offset, the byte offset in the target section */
  readonly offsets: Float64Array;
  /** per entry: ELF64_R_TYPE, an R_BPF value (relocationType names it) */
  readonly types: Uint8Array;
  /** per entry: ELF64_R_SYM, an index into ElfFile.symbols */
  readonly symbols: Uint32Array;
}

export interface ElfFile {
  /** every section header, index 0 the null one */
  readonly sections: readonly ElfSectionHeader[];
  /** .symtab in order, index 0 the null symbol; symbols[firstGlobal..] are the non-local ones */
  readonly symbols: readonly ElfSymbolEntry[];
  readonly firstGlobal: number;
  readonly relocations: readonly ElfRelocationSection[];
}

const NAMES = <T extends Record<string, number>>(o: T): Record<number, keyof T> => Object.fromEntries(Object.entries(o).map(([k, v]) => [v, k]));
const STT_NAMES = NAMES(STT);
const STB_NAMES = NAMES(STB);
const STV_NAMES = NAMES(STV);
const R_NAMES = NAMES(R_BPF);

/**
 * Reads a relocatable ELF64 little-endian EM_BPF object: sections with names, the symbol table, SHT_REL relocations.
 * @throws ObjectFormatError KPTR_OBJECT_MALFORMED naming the section (or "ELF header") and byte offset that is bad
 */
export function readElf(bytes: Uint8Array): ElfFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = (offset: number, what: string): never => {
    throw new ObjectFormatError('ELF header', offset, what);
  };
  if (bytes.length < ELF_HEADER_SIZE) header(0, `${bytes.length} bytes is too short for an ELF header`);
  if (view.getUint32(0, false) !== 0x7f454c46) header(0, 'not an ELF file (no \\x7fELF magic)');
  if (bytes[4] !== 2) header(4, 'not ELFCLASS64');
  if (bytes[5] !== 1) header(5, 'not little-endian (ELFDATA2LSB); big-endian BPF objects are not supported');
  if (view.getUint16(16, true) !== ET_REL) header(16, `e_type ${view.getUint16(16, true)} is not ET_REL`);
  if (view.getUint16(18, true) !== EM_BPF) header(18, `e_machine ${view.getUint16(18, true)} is not EM_BPF (247)`);
  const u64 = (at: number): number => {
    const v = safeU64(view, at);
    if (v === null) throw new ObjectFormatError('ELF header', at, `value ${view.getBigUint64(at, true)} too large`);
    return v;
  };
  const shoff = u64(40);
  const shentsize = view.getUint16(58, true);
  const shnum = view.getUint16(60, true);
  const shstrndx = view.getUint16(62, true);
  if (shnum > 0 && shentsize !== SECTION_HEADER_SIZE) header(58, `e_shentsize ${shentsize} (want 64)`);
  if (shoff + shnum * SECTION_HEADER_SIZE > bytes.length) header(40, `section headers [${shoff}, +${shnum}*64) run past the ${bytes.length}-byte file`);
  if (shstrndx >= shnum) header(62, `e_shstrndx ${shstrndx} is not a section (${shnum} sections)`);

  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * SECTION_HEADER_SIZE;
    return {
      nameOff: view.getUint32(at, true), type: view.getUint32(at + 4, true), flags: u64(at + 8), offset: u64(at + 24), size: u64(at + 32),
      link: view.getUint32(at + 40, true), info: view.getUint32(at + 44, true), align: u64(at + 48), entsize: u64(at + 56),
    };
  });
  const contents = (i: number): Uint8Array => {
    const s = raw[i]!;
    if (s.type === SHT.NOBITS || s.type === SHT.NULL) return new Uint8Array(0);
    if (s.offset + s.size > bytes.length) throw new ObjectFormatError(`section ${i}`, 0, `contents [${s.offset}, +${s.size}) run past the ${bytes.length}-byte file`);
    return bytes.subarray(s.offset, s.offset + s.size);
  };
  const sectionName = stringReader(contents(shstrndx));
  const sections: ElfSectionHeader[] = raw.map((s, index) => {
    const name = sectionName(s.nameOff) ?? header(shoff + index * SECTION_HEADER_SIZE, `section ${index}: name offset ${s.nameOff} outside the section name table`);
    return { index, name, type: s.type, flags: s.flags, offset: s.offset, size: s.size, link: s.link, info: s.info, align: s.align, entsize: s.entsize, bytes: contents(index) };
  });

  const symtabs = sections.filter((s) => s.type === SHT.SYMTAB);
  if (symtabs.length > 1) throw new ObjectFormatError(symtabs[1]!.name, 0, 'a second SHT_SYMTAB');
  const symtab = symtabs[0];
  let symbols: ElfSymbolEntry[] = [];
  if (symtab) {
    const fail = (offset: number, what: string): never => {
      throw new ObjectFormatError(symtab.name, offset, what);
    };
    if (symtab.size % SYMBOL_SIZE !== 0) fail(symtab.size - (symtab.size % SYMBOL_SIZE), `size ${symtab.size} is not a multiple of ${SYMBOL_SIZE}`);
    const symbolName = stringReader(sections[symtab.link]?.bytes ?? fail(0, `sh_link ${symtab.link} is not a section`));
    const sv = new DataView(symtab.bytes.buffer, symtab.bytes.byteOffset, symtab.bytes.byteLength);
    // plain loops, no closure per entry: objects hold hundreds of symbols and thousands of relocations
    const count = symtab.size / SYMBOL_SIZE;
    symbols = [];
    for (let index = 0; index < count; index++) {
      const at = index * SYMBOL_SIZE;
      const info = sv.getUint8(at + 4);
      const shndx = sv.getUint16(at + 6, true);
      const nameOff = sv.getUint32(at, true);
      const value = safeU64(sv, at + 8) ?? fail(at + 8, `symbol ${index}: value too large`);
      const size = safeU64(sv, at + 16) ?? fail(at + 16, `symbol ${index}: size too large`);
      symbols.push({
        index,
        name: symbolName(nameOff) ?? fail(at, `symbol ${index}: name offset ${nameOff} outside ${sections[symtab.link]!.name}`),
        value,
        size,
        type: STT_NAMES[info & 0xf] ?? fail(at + 4, `symbol ${index}: unknown type ${info & 0xf}`),
        bind: STB_NAMES[info >> 4] ?? fail(at + 4, `symbol ${index}: unknown binding ${info >> 4}`),
        visibility: STV_NAMES[sv.getUint8(at + 5) & 0x3]!,
        sectionIndex: shndx,
        section: shndx !== SHN_UNDEF && shndx < sections.length ? sections[shndx]!.name : null,
      });
    }
  }

  const relocations = sections.filter((s) => s.type === SHT.REL).map((rel): ElfRelocationSection => {
    const fail = (offset: number, what: string): never => {
      throw new ObjectFormatError(rel.name, offset, what);
    };
    if (rel.size % REL_SIZE !== 0) fail(rel.size - (rel.size % REL_SIZE), `size ${rel.size} is not a multiple of ${REL_SIZE}`);
    const target = sections[rel.info] ?? fail(0, `sh_info ${rel.info} is not a section`);
    if (symtab === undefined || rel.link !== symtab.index) fail(0, `sh_link ${rel.link} is not the symbol table`);
    const rv = new DataView(rel.bytes.buffer, rel.bytes.byteOffset, rel.bytes.byteLength);
    const count = rel.size / REL_SIZE;
    const offsets = new Float64Array(count);
    const types = new Uint8Array(count);
    const syms = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      const at = i * REL_SIZE;
      const offset = safeU64(rv, at) ?? fail(at, `relocation ${i}: offset too large`);
      // r_info: ELF64_R_SYM in the upper, ELF64_R_TYPE in the lower 32 bits
      const typeNo = rv.getUint32(at + 8, true);
      const symbol = rv.getUint32(at + 12, true);
      if (symbol >= symbols.length) fail(at + 8, `relocation ${i}: symbol ${symbol} is not in the symbol table (${symbols.length} symbols)`);
      if (target.type !== SHT.NOBITS && offset >= target.size) fail(at, `relocation ${i}: offset ${offset} outside ${target.name} (${target.size} bytes)`);
      if (R_NAMES[typeNo] === undefined) fail(at + 8, `relocation ${i}: unknown BPF relocation type ${typeNo}`);
      offsets[i] = offset;
      types[i] = typeNo;
      syms[i] = symbol;
    }
    return { name: rel.name, target: target.name, targetIndex: target.index, offsets, types, symbols: syms };
  });

  return { sections, symbols, firstGlobal: symtab?.info ?? 0, relocations };
}

/**
 * A little-endian u64 as a number, or null above 2^53 (nothing in a BPF object is that large). Below 2^32 it is the
 * low word itself, a small integer: the product would be a float, boxed in every symbol and relocation that holds it.
 */
function safeU64(view: DataView, at: number): number | null {
  const hi = view.getUint32(at + 4, true);
  const lo = view.getUint32(at, true);
  if (hi === 0) return lo;
  return hi >= 0x200000 ? null : hi * 0x1_0000_0000 + lo;
}

/** The name of R_BPF relocation type `type` (one readElf accepted). */
export function relocationType(type: number): RelocationType {
  return R_NAMES[type] as RelocationType;
}

/** A relocation section's entries as rows (for readers that list them; the loader reads the columns). */
export function relocationEntries(rel: ElfRelocationSection): ElfRelocationEntry[] {
  return Array.from(rel.offsets, (offset, k) => ({ offset, type: relocationType(rel.types[k] as number), symbol: rel.symbols[k] as number }));
}

/** The section called `name`, or null. */
export function elfSection(elf: ElfFile, name: string): ElfSectionHeader | null {
  return elf.sections.find((s) => s.name === name) ?? null;
}
