import { KptrError } from '../../errors/KptrError.ts';
import { fetchKernel, listKernels, type KernelName } from '../../runners/vm/kernelImages.ts';
import { KERNEL_NAMES, KERNEL_SUITES } from '../../runners/vm/debianKernelPackage.ts';

/** `kptr-conform kernels list`: the names that can be fetched, and what is cached. */
export async function kernelsList(): Promise<number> {
  const cached = await listKernels();
  process.stdout.write('fetchable: ' + KERNEL_NAMES.map((n) => `${n} (${KERNEL_SUITES[n].suite})`).join(', ') + '\n');
  if (cached.length === 0) process.stdout.write('cached: none (npx kptr-conform kernels fetch 6.12)\n');
  for (const k of cached) process.stdout.write(`cached: ${k.release}  ${k.package ?? 'local image'}  ${k.vmlinuz}\n`);
  return 0;
}

/** `kptr-conform kernels fetch <name>`: downloads a Debian cloud kernel into the cache (no-op when cached). */
export async function kernelsFetch(name: string): Promise<number> {
  if (!(KERNEL_NAMES as readonly string[]).includes(name)) {
    throw new KptrError('KPTR_USAGE', `unknown kernel '${name}'`, `choose one of: ${KERNEL_NAMES.join(', ')}`);
  }
  const image = await fetchKernel(name as KernelName, (m) => process.stderr.write(`kernels fetch ${name}: ${m}\n`));
  process.stdout.write(`${image.release} ${image.vmlinuz}\n`);
  return 0;
}
