import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { orDiskFull } from '../errors/diskFull.ts';
import type { Scenario } from '../types/index.ts';
import { compileBpf } from './codegen/compileBpf.ts';
import { emitBatch } from './codegen/emit.ts';
import { writeObject } from './object/writeObject.ts';

/**
 * How scenarios become a BPF object: `clang` compiles the selftest-style C (what a reproducer is; ~5 ms of CPU per
 * scenario), `direct` writes the object itself (compile/object: no compiler in the loop, ~50 times faster).
 */
export type Codegen = 'clang' | 'direct';

export const CODEGENS: readonly Codegen[] = ['clang', 'direct'];

/**
 * Writes `<workDir>/<name>.bpf.o` for a batch and returns its path.
 * @throws KptrError KPTR_SCENARIO_INVALID, KPTR_DISK_FULL, and with clang KPTR_CLANG_MISSING or KPTR_COMPILE_FAILED;
 * the abort reason when `signal` stops clang
 */
export async function buildObject(batch: readonly Scenario[], codegen: Codegen, workDir: string, name: string, signal?: AbortSignal): Promise<string> {
  if (codegen === 'clang') return compileBpf(emitBatch(batch).source, workDir, name, signal);
  const bytes = writeObject(batch);
  const object = join(workDir, `${name}.bpf.o`);
  await orDiskFull(object, async () => {
    await mkdir(workDir, { recursive: true });
    await writeFile(object, bytes);
  });
  return object;
}
