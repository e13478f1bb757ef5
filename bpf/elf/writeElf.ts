import { StringTable } from '../StringTable.ts';
import { EM_BPF, ET_REL, R_BPF, SHF, SHT, STB, STT, type SymbolBind } from './elfAbi.ts';

/**
 * An ELF64 relocatable object for EM_BPF, little-endian: the container libbpf opens. Only what a
 * clang-16 BPF object has: PROGBITS/NOBITS sections, one string table for section and symbol names,
 * a symbol table (locals first), and a REL section per code section.
 */

export interface ElfSection {
  readonly name: string;
  /** NOBITS sections (`.bss*`) have a size and no bytes */
  readonly contents: { readonly bytes: Uint8Array } | { readonly nobits: number };
  readonly flags: 'code' | 'data' | 'rodata' | 'none';
  readonly align: number;
  readonly relocations?: readonly ElfRelocation[];
}

/** An entry of `.rel<section>`: R_BPF_64_64 for ld_imm64, R_BPF_64_32 for a call. */
export interface ElfRelocation {
  readonly offset: number;
  readonly type: 'R_BPF_64_64' | 'R_BPF_64_32';
  /** a symbol by name, or the section symbol of a section */
  readonly target: { readonly symbol: string } | { readonly section: string };
}

export interface ElfSymbol {
  readonly name: string;
  /** null: undefined (an extern) */
  readonly section: string | null;
  readonly value: number;
  readonly size: number;
  readonly type: 'func' | 'object' | 'notype';
  readonly bind: SymbolBind;
}

const FLAGS: Readonly<Record<ElfSection['flags'], number>> = {
  code: SHF.ALLOC | SHF.EXECINSTR,
  data: SHF.ALLOC | SHF.WRITE,
  rodata: SHF.ALLOC,
  none: 0,
};

interface Header {
  name: number;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  align: number;
  entsize: number;
}

/** The object file's bytes. */
export function writeElf(sections: readonly ElfSection[], symbols: readonly ElfSymbol[]): Uint8Array {
  const strtab = new StringTable();
  // section indices: 0 null, 1 .strtab, then each section followed by its .rel section, then .symtab
  const index = new Map<string, number>();
  let next = 2;
  for (const s of sections) {
    index.set(s.name, next++);
    if (s.relocations?.length) next++;
  }
  const symtabIndex = next;
  const sectionIndex = (name: string): number => {
    const i = index.get(name);
    if (i === undefined) throw new Error(`ELF: no section ${name}`);
    return i;
  };

  // symbols: null, section symbols of relocation targets, locals, then globals/weaks
  const sectionSymIndex = new Map<string, number>();
  for (const s of sections) {
    for (const r of s.relocations ?? []) if ('section' in r.target && !sectionSymIndex.has(r.target.section)) sectionSymIndex.set(r.target.section, 1 + sectionSymIndex.size);
  }
  const sectionSyms = [...sectionSymIndex.keys()];
  const locals = symbols.filter((s) => s.bind === 'local');
  const ordered = [...locals, ...symbols.filter((s) => s.bind !== 'local')];
  const symBytes = new Uint8Array(24 * (1 + sectionSyms.length + ordered.length));
  const symView = new DataView(symBytes.buffer);
  const symIndex = new Map<string, number>();
  // indexed loops, no callback per symbol or relocation: an object has hundreds of symbols and thousands of relocations
  for (let k = 0; k < sectionSyms.length; k++) putSym(symView, 1 + k, 0, (STB.local << 4) | STT.section, sectionIndex(sectionSyms[k]!), 0, 0);
  for (let k = 0; k < ordered.length; k++) {
    const s = ordered[k]!;
    const i = 1 + sectionSyms.length + k;
    symIndex.set(s.name, i);
    putSym(symView, i, strtab.add(s.name), (STB[s.bind] << 4) | STT[s.type], s.section === null ? 0 : sectionIndex(s.section), s.value, s.size);
  }
  const firstGlobal = 1 + sectionSyms.length + locals.length;

  const relocBytes = (relocs: readonly ElfRelocation[]): Uint8Array => {
    const out = new Uint8Array(16 * relocs.length);
    const v = new DataView(out.buffer);
    for (let k = 0; k < relocs.length; k++) {
      const r = relocs[k]!;
      const sym = 'symbol' in r.target ? symIndex.get(r.target.symbol) : sectionSymIndex.get(r.target.section);
      if (sym === undefined) throw new Error(`ELF: relocation against unknown ${JSON.stringify(r.target)}`);
      setU64(v, k * 16, r.offset);
      // r_info: ELF64_R_INFO(sym, type)
      v.setUint32(k * 16 + 8, R_BPF[r.type], true);
      v.setUint32(k * 16 + 12, sym, true);
    }
    return out;
  };

  // lay the contents out after the 64-byte ELF header
  const headers: Header[] = [{ name: 0, type: 0, flags: 0, offset: 0, size: 0, link: 0, info: 0, align: 0, entsize: 0 }];
  const chunks: { offset: number; bytes: Uint8Array }[] = [];
  let offset = 64;
  const place = (bytes: Uint8Array, align: number): number => {
    offset = Math.ceil(offset / align) * align;
    const at = offset;
    chunks.push({ offset: at, bytes });
    offset += bytes.length;
    return at;
  };
  const strtabHeader: Header = { name: strtab.add('.strtab'), type: SHT.STRTAB, flags: 0, offset: 0, size: 0, link: 0, info: 0, align: 1, entsize: 0 };
  headers.push(strtabHeader);
  for (const s of sections) {
    const name = strtab.add(s.name);
    if ('bytes' in s.contents) {
      headers.push({ name, type: SHT.PROGBITS, flags: FLAGS[s.flags], offset: place(s.contents.bytes, s.align), size: s.contents.bytes.length, link: 0, info: 0, align: s.align, entsize: 0 });
    } else {
      offset = Math.ceil(offset / s.align) * s.align;
      headers.push({ name, type: SHT.NOBITS, flags: FLAGS[s.flags], offset, size: s.contents.nobits, link: 0, info: 0, align: s.align, entsize: 0 });
    }
    if (s.relocations?.length) {
      const bytes = relocBytes(s.relocations);
      headers.push({
        name: strtab.add(`.rel${s.name}`), type: SHT.REL, flags: SHF.INFO_LINK, offset: place(bytes, 8), size: bytes.length,
        link: symtabIndex, info: sectionIndex(s.name), align: 8, entsize: 16,
      });
    }
  }
  headers.push({ name: strtab.add('.symtab'), type: SHT.SYMTAB, flags: 0, offset: place(symBytes, 8), size: symBytes.length, link: 1, info: firstGlobal, align: 8, entsize: 24 });
  const strBytes = strtab.bytes();
  strtabHeader.offset = place(strBytes, 1);
  strtabHeader.size = strBytes.length;

  const shoff = Math.ceil(offset / 8) * 8;
  const out = new Uint8Array(shoff + 64 * headers.length);
  const view = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // ELFCLASS64, ELFDATA2LSB, EV_CURRENT
  view.setUint16(16, ET_REL, true);
  view.setUint16(18, EM_BPF, true);
  view.setUint32(20, 1, true);
  setU64(view, 40, shoff);
  view.setUint16(52, 64, true); // e_ehsize
  view.setUint16(58, 64, true); // e_shentsize
  view.setUint16(60, headers.length, true);
  view.setUint16(62, 1, true); // e_shstrndx: .strtab
  for (const c of chunks) out.set(c.bytes, c.offset);
  headers.forEach((h, i) => {
    const at = shoff + i * 64;
    view.setUint32(at, h.name, true);
    view.setUint32(at + 4, h.type, true);
    setU64(view, at + 8, h.flags);
    setU64(view, at + 24, h.offset);
    setU64(view, at + 32, h.size);
    view.setUint32(at + 40, h.link, true);
    view.setUint32(at + 44, h.info, true);
    setU64(view, at + 48, h.align);
    setU64(view, at + 56, h.entsize);
  });
  return out;
}

/** Elf64_Sym `i` of the symbol table */
function putSym(view: DataView, i: number, name: number, info: number, shndx: number, value: number, size: number): void {
  view.setUint32(i * 24, name, true);
  view.setUint8(i * 24 + 4, info);
  view.setUint16(i * 24 + 6, shndx, true);
  setU64(view, i * 24 + 8, value);
  setU64(view, i * 24 + 16, size);
}

/** a 64-bit little-endian field holding a non-negative number below 2^53 (no BigInt per field) */
function setU64(view: DataView, at: number, n: number): void {
  view.setUint32(at, n % 0x1_0000_0000, true);
  view.setUint32(at + 4, Math.floor(n / 0x1_0000_0000), true);
}
