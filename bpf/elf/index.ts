/**
 * The ELF64 little-endian EM_BPF relocatable object clang and the direct writer produce: readElf gives sections (with
 * names and bytes), the symbol table and SHT_REL relocations; writeElf lays one out.
 */
export * from './elfAbi.ts';
export { elfSection, readElf, relocationEntries, relocationType, type ElfFile, type ElfRelocationEntry, type ElfRelocationSection, type ElfSectionHeader, type ElfSymbolEntry } from './readElf.ts';
export { writeElf, type ElfRelocation, type ElfSection, type ElfSymbol } from './writeElf.ts';
