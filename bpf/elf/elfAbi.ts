/** The ELF64 constants a BPF object uses (include/uapi/linux/elf.h; llvm/BinaryFormat/ELFRelocs/BPF.def). */

export const EM_BPF = 247;
export const ET_REL = 1;
export const ELF_HEADER_SIZE = 64;
export const SECTION_HEADER_SIZE = 64;
export const SYMBOL_SIZE = 24;
export const REL_SIZE = 16;

/** sh_type */
export const SHT = { NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, RELA: 4, HASH: 5, DYNAMIC: 6, NOTE: 7, NOBITS: 8, REL: 9, LLVM_ADDRSIG: 0x6fff4c03 } as const;
/** sh_flags */
export const SHF = { WRITE: 0x1, ALLOC: 0x2, EXECINSTR: 0x4, MERGE: 0x10, STRINGS: 0x20, INFO_LINK: 0x40, EXCLUDE: 0x80000000 } as const;

/** ELF64_ST_TYPE */
export const STT = { notype: 0, object: 1, func: 2, section: 3, file: 4 } as const;
export type SymbolType = keyof typeof STT;
/** ELF64_ST_BIND */
export const STB = { local: 0, global: 1, weak: 2 } as const;
export type SymbolBind = keyof typeof STB;
/** ELF64_ST_VISIBILITY */
export const STV = { default: 0, internal: 1, hidden: 2, protected: 3 } as const;
export type SymbolVisibility = keyof typeof STV;
/** st_shndx of an undefined symbol; SHN_ABS of an absolute one */
export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;

/** BPF relocation types (Documentation/bpf/llvm_reloc.rst) */
export const R_BPF = { R_BPF_NONE: 0, R_BPF_64_64: 1, R_BPF_64_ABS64: 2, R_BPF_64_ABS32: 3, R_BPF_64_NODYLD32: 4, R_BPF_64_32: 10 } as const;
export type RelocationType = keyof typeof R_BPF;
