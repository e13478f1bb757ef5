import { readFileSync } from 'node:fs';

/** The reader fixtures (fixtures/regen.sh): clang-16 objects and what llvm-readobj-16, bpftool and a kernel said of them. */
export const FIXTURES = ['formats', '01_ok_baseline', '31_global_bss', '37_fwd_pointee'] as const;
export const KERNEL = '6.18.44';

const dir = new URL('./fixtures/', import.meta.url);
export const fixtureBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`${name}.bpf.o`, dir)));
export const fixtureText = (file: string): string => readFileSync(new URL(file, dir), 'utf8');
export const fixtureJson = (file: string): unknown => JSON.parse(fixtureText(file));
