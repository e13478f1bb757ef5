import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KptrError } from '../../../../errors/KptrError.ts';
import { compileBpf } from '../../../../compile/codegen/compileBpf.ts';
import { emitBatch } from '../../../../compile/codegen/emit.ts';
import { percpuAllocArray } from './percpuAllocArray.fixture.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kptr-compile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function codeOf(promise: Promise<unknown>): Promise<KptrError> {
  const e = await promise.then(
    () => expect.fail('expected a KptrError'),
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(KptrError);
  return e as KptrError;
}

describe('compileBpf', () => {
  it('should write the source and kptr.h and return an ELF BPF object', async () => {
    const start = performance.now();
    const object = await compileBpf(emitBatch([percpuAllocArray]).source, dir, 'one');
    console.log(`clang-16: 1 scenario (4 programs) in ${(performance.now() - start).toFixed(0)} ms`);
    expect(object).toBe(join(dir, 'one.bpf.o'));
    const elf = await readFile(object);
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(elf.readUInt16LE(18)).toBe(247); // e_machine EM_BPF
    expect(await readFile(join(dir, 'kptr.h'), 'utf8')).toContain('#define bpf_for(i, start, end)');
  });

  it('should report clang first error line and the file on a compile error', async () => {
    const e = await codeOf(compileBpf('#include "kptr.h"\nint broken(void) { return undeclared_thing; }\n', dir, 'broken'));
    expect(e.code).toBe('KPTR_COMPILE_FAILED');
    expect(e.message).toContain(join(dir, 'broken.bpf.c'));
    expect(e.message).toMatch(/error: use of undeclared identifier 'undeclared_thing'/);
  });

  it('should say how to install clang when clang-16 is missing', async () => {
    const path = process.env.PATH;
    process.env.PATH = join(dir, 'no-such-bin');
    try {
      const e = await codeOf(compileBpf('int x;\n', dir, 'noclang'));
      expect(e.code).toBe('KPTR_CLANG_MISSING');
      expect(e.hint).toContain('scripts/setup.sh');
    } finally {
      process.env.PATH = path;
    }
  });
});
