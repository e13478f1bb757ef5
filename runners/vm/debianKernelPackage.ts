/** Kernels `kernels fetch` knows by name; each comes from one Debian suite. */
export type KernelName = '6.1' | '6.12' | '6.18' | '7.3' | 'latest';

export const KERNEL_NAMES: readonly KernelName[] = ['6.1', '6.12', '6.18', '7.3', 'latest'];

/** Debian suite whose index holds the kernel, and the `major.minor` to pick (null: the newest of the suite). */
export const KERNEL_SUITES: Readonly<Record<KernelName, { readonly suite: string; readonly series: string | null }>> = {
  '6.1': { suite: 'bookworm', series: '6.1' },
  '6.12': { suite: 'trixie', series: '6.12' },
  '6.18': { suite: 'trixie-backports', series: '6.18' },
  '7.3': { suite: 'trixie-backports', series: '7.3' },
  latest: { suite: 'trixie-backports', series: null },
};

/** The packages to download for one kernel: the one holding vmlinuz first, then helpers (linux-base has the config). */
export interface DebianKernelPackage {
  /** Debian's ABI name, which is also `uname -r`: `6.12.117+deb13-cloud-amd64`, `6.1.0-50-cloud-amd64` */
  readonly abi: string;
  readonly packages: readonly string[];
}

// linux-image-6.1.0-50-cloud-amd64-unsigned, linux-image-6.18.15+deb13-cloud-amd64,
// linux-binary-7.3.4+deb13-cloud-amd64, linux-binary-unsigned-7.3.4+deb13-cloud-amd64
const KERNEL_PACKAGE = /^linux-(?:image|binary|binary-unsigned)-(\d+\.\d+\.\d+(?:-\d+)?(?:\+deb\d+)?-cloud-amd64)(?:-unsigned)?$/;

/**
 * Picks the newest cloud kernel of `series` (or of the whole index) from the package names of a suite's index.
 * Since 6.19 Debian splits the kernel: `linux-image-*` is then a small package depending on `linux-binary-*` (vmlinuz
 * under usr/lib/modules/) and `linux-base-*` (config), so a binary package is preferred whenever one exists.
 */
export function debianKernelPackage(packageNames: readonly string[], series: string | null): DebianKernelPackage | null {
  const names = new Set(packageNames);
  const abis = [...new Set(packageNames.flatMap((n) => KERNEL_PACKAGE.exec(n)?.[1] ?? []))]
    .filter((abi) => series === null || abi.startsWith(`${series}.`))
    .sort(compareAbi);
  const abi = abis.at(-1);
  if (abi === undefined) return null;
  const image = [
    `linux-binary-unsigned-${abi}`,
    `linux-binary-${abi}`,
    `linux-image-${abi}-unsigned`,
    `linux-image-${abi}`,
  ].find((n) => names.has(n));
  if (image === undefined) return null;
  const base = `linux-base-${abi}`;
  return { abi, packages: names.has(base) ? [image, base] : [image] };
}

/** Orders ABI names by their numbers: 6.1.0-47 < 6.1.0-50, 6.12.107 < 6.12.117, 7.2.12 < 7.3.4. */
export function compareAbi(a: string, b: string): number {
  const na = (a.match(/\d+/g) ?? []).map(Number);
  const nb = (b.match(/\d+/g) ?? []).map(Number);
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (na[i] ?? -1) - (nb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}
