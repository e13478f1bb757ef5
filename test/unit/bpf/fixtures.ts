import { readFileSync } from 'node:fs';
import { readBtf } from '../../../bpf/btf/readBtf.ts';
import type { Btf } from '../../../bpf/btf/kinds.ts';
import { elfSection, readElf, type ElfFile } from '../../../bpf/elf/readElf.ts';

/** The reader fixtures (fixtures/regen.sh): clang-16 objects and what llvm-readobj-16, bpftool and a kernel said of them. */
export const FIXTURES = ['formats', '01_ok_baseline', '31_global_bss', '37_fwd_pointee'] as const;
/** Objects with only a verifier log (no BTF): the ISA v4 forms, written by isaV4.ts */
export const INSN_ONLY_FIXTURES = ['isa-v4'] as const;
/** the kernel whose verifier logs are recorded */
export const KERNEL = '6.18.44';

const dir = new URL('./fixtures/', import.meta.url);
export const fixtureBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`${name}.bpf.o`, dir)));
export const fixtureText = (file: string): string => readFileSync(new URL(file, dir), 'utf8');
export const fixtureJson = (file: string): unknown => JSON.parse(fixtureText(file));
export const fixtureElf = (name: string): ElfFile => readElf(fixtureBytes(name));

export function fixtureBtf(name: string): Btf {
  const section = elfSection(fixtureElf(name), '.BTF');
  if (!section) throw new Error(`${name}: no .BTF`);
  return readBtf(section.bytes);
}
