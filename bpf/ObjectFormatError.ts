import { KptrError } from '../errors/KptrError.ts';

/**
 * A BPF object (ELF, BTF, .BTF.ext, instructions) that cannot be read: names the section and the byte offset in it
 * where reading stopped, as libbpf's "elf: ..." and "btf: ..." messages do.
 */
export class ObjectFormatError extends KptrError {
  constructor(
    /** the ELF section (or "ELF header", ".BTF", ...) being read */
    readonly section: string,
    /** byte offset in that section */
    readonly offset: number,
    what: string,
  ) {
    super('KPTR_OBJECT_MALFORMED', `${section}+${offset}: ${what}`, 'the file is not a BPF object clang or kptr-conform wrote; rebuild it');
  }
}
