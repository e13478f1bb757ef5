import { KptrError } from '../errors/KptrError.ts';

/**
 * A BPF object (ELF, BTF, .BTF.ext, instructions) that cannot be read: one line naming the section and the byte
 * offset in it where reading stopped (`.BTF+28: type [1] has unknown kind 31`).
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
