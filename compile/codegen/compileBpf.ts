import { copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { diskFull, orDiskFull, saysNoSpace } from '../../errors/diskFull.ts';
import { childStopped } from '../../errors/interrupted.ts';
import { KptrError } from '../../errors/KptrError.ts';

/** The project's BPF compiler, installed by scripts/setup.sh (bookworm's plain `clang` is version 14). */
export const CLANG = 'clang-16';

const HEADER = fileURLToPath(new URL('./kptr.h', import.meta.url));

/** Where Debian keeps asm/types.h, which linux/bpf.h includes (the bpf target has no multiarch dir). */
const MULTIARCH_INCLUDE: Readonly<Partial<Record<NodeJS.Architecture, string>>> = {
  x64: '/usr/include/x86_64-linux-gnu',
  arm64: '/usr/include/aarch64-linux-gnu',
};

/**
 * clang's arguments for one BPF object. `-mcpu=v3` is what the kernel selftests' default build
 * (test_progs) uses since its Makefile switched from llc -mcpu=probe: ALU32 sub-registers and
 * JMP32, so the verifier sees the instruction shapes upstream programs produce (v2 is their
 * no_alu32 flavour, v4 a separate cpuv4 runner; clang-16's default is v1).
 */
export function bpfClangArgs(source: string, object: string, includeDir: string): string[] {
  const multiarch = MULTIARCH_INCLUDE[process.arch];
  return [
    '-g',
    '-O2',
    '-target',
    'bpf',
    '-mcpu=v3',
    `-I${includeDir}`,
    ...(multiarch ? [`-I${multiarch}`] : []),
    '-c',
    source,
    '-o',
    object,
  ];
}

/**
 * Writes `<workDir>/<baseName>.bpf.c` and kptr.h beside it, compiles it with clang-16, and returns
 * the path of `<baseName>.bpf.o`.
 * @throws KptrError KPTR_CLANG_MISSING when clang-16 is not installed; KPTR_COMPILE_FAILED with
 * clang's first error line and the source path when the C does not compile; KPTR_DISK_FULL; the abort reason when
 * `signal` stops clang (clang is killed)
 */
export async function compileBpf(source: string, workDir: string, baseName: string, signal?: AbortSignal): Promise<string> {
  const cFile = join(workDir, `${baseName}.bpf.c`);
  const object = join(workDir, `${baseName}.bpf.o`);
  await orDiskFull(cFile, async () => {
    await mkdir(workDir, { recursive: true });
    await writeFile(cFile, source);
    await installHeader(workDir);
  });
  try {
    await execa(CLANG, bpfClangArgs(cFile, object, workDir), { stdin: 'ignore', cancelSignal: signal });
  } catch (error) {
    const e = error as { code?: string; stderr?: string; isCanceled?: boolean; signal?: string };
    // clang stopped with the run, or out of room for its object: no verdict on the C
    const stopped = childStopped(e, signal);
    if (stopped) throw stopped;
    if (saysNoSpace(e.stderr ?? '')) throw diskFull(object, error);
    if (e.code === 'ENOENT') {
      throw new KptrError('KPTR_CLANG_MISSING', `${CLANG} is not installed`, 'run scripts/setup.sh (installs clang-16)', { cause: error });
    }
    const stderr = e.stderr ?? '';
    const firstError = stderr.split('\n').find((l) => l.includes('error:')) ?? (stderr.trim() || String(error));
    throw new KptrError(
      'KPTR_COMPILE_FAILED',
      `${CLANG} could not compile ${cFile}: ${firstError}`,
      `codegen produced C that does not compile; report it with ${cFile}`,
      { cause: error },
    );
  }
  return object;
}

/**
 * Copies kptr.h into workDir by rename, so a clang run of a concurrent compile in the same
 * directory never reads a half-written header.
 */
async function installHeader(workDir: string): Promise<void> {
  const tmp = join(workDir, `.kptr.h.${process.pid}.${Math.random().toString(36).slice(2)}`);
  await copyFile(HEADER, tmp);
  await rename(tmp, join(workDir, 'kptr.h'));
}
