import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { KptrError } from '../../errors/KptrError.ts';
import { defaultCacheDir } from '../cacheDir.ts';
import { bzImageVersion, type BzImageVersion } from './bzImageVersion.ts';
import { compareAbi, debianKernelPackage, KERNEL_NAMES, KERNEL_SUITES, type KernelName } from './debianKernelPackage.ts';

export type { KernelName } from './debianKernelPackage.ts';

/** A bootable kernel: a cached Debian image, or any bzImage given by path. */
export interface KernelImage {
  /** `uname -r` of the image, e.g. `6.12.117+deb13-cloud-amd64` */
  readonly release: string;
  /** numeric `major.minor.patch` */
  readonly version: string;
  readonly vmlinuz: string;
  /** the kernel's .config when known */
  readonly config: string | null;
  /** Debian package and suite it came from; null for an image given by path */
  readonly package: string | null;
  readonly suite: string | null;
}

export interface KernelCacheOptions {
  /** defaults to `${XDG_CACHE_HOME:-~/.cache}/kptr-conform` */
  readonly cacheDir?: string;
}

const MIRROR = 'http://deb.debian.org/debian';
const META_FILE = 'kernel.json';

/** Every kernel in the cache, oldest first. */
export async function listKernels(options: KernelCacheOptions = {}): Promise<KernelImage[]> {
  const root = join(options.cacheDir ?? defaultCacheDir(), 'kernels');
  const dirs = await readdir(root).catch(() => [] as string[]);
  const images = await Promise.all(dirs.map((d) => readMeta(join(root, d))));
  return images.filter((i): i is KernelImage => i !== null).sort((a, b) => compareAbi(a.version, b.version));
}

/**
 * Downloads the current Debian cloud kernel of `name` into the cache (idempotent: a cached release is reused).
 * apt runs against a private sources list and lists directory under the cache, so the system's apt state is untouched.
 */
export async function fetchKernel(
  name: KernelName,
  onProgress: (message: string) => void = () => {},
  options: KernelCacheOptions = {},
): Promise<KernelImage> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const { suite, series } = KERNEL_SUITES[name];
  const apt = await privateApt(cacheDir, suite);
  onProgress(`updating the ${suite} index`);
  await run('apt-get', [...apt, 'update'], `apt-get update for ${suite}`);
  const names = (await run('apt-cache', [...apt, 'pkgnames', 'linux-'], `apt-cache pkgnames (${suite})`)).split('\n');
  const pick = debianKernelPackage(names, series);
  if (pick === null) {
    throw new KptrError('KPTR_KERNEL_FETCH_FAILED', `no ${series ?? 'cloud'} kernel in Debian ${suite}`, 'check the name with: npx kptr-conform kernels list');
  }
  const dir = join(cacheDir, 'kernels', pick.abi);
  const cached = await readMeta(dir);
  if (cached !== null) {
    onProgress(`${pick.abi} is already cached`);
    return cached;
  }
  const work = await mkdtemp(join(cacheDir, 'download-'));
  try {
    onProgress(`downloading ${pick.packages.join(' ')}`);
    // _apt cannot write into root's cache directory; downloading as root is what apt falls back to anyway.
    await run('apt-get', [...apt, '-o', 'APT::Sandbox::User=root', 'download', ...pick.packages], 'apt-get download', work);
    const debs = (await readdir(work)).filter((f) => f.endsWith('.deb'));
    for (const deb of debs) await run('dpkg-deb', ['-x', deb, 'root'], `dpkg-deb -x ${deb}`, work);
    const vmlinuz = await findFile(join(work, 'root'), (f) => /^vmlinuz/.test(f));
    if (vmlinuz === null) throw new KptrError('KPTR_KERNEL_FETCH_FAILED', `no vmlinuz in ${pick.packages.join(', ')}`, 'report this package layout as a bug');
    const config = await findFile(join(work, 'root'), (f) => f === 'config' || f.startsWith('config-'));
    const header = await readBzImage(vmlinuz).catch((cause: unknown) => {
      throw new KptrError('KPTR_KERNEL_FETCH_FAILED', `${pick.packages[0]} holds no usable bzImage`, 'report this package as a bug', { cause });
    });
    await mkdir(dir, { recursive: true });
    await copyFile(vmlinuz, join(dir, 'vmlinuz'));
    if (config !== null) await copyFile(config, join(dir, 'config'));
    const meta = { release: header.release, version: header.version, package: pick.packages[0] ?? null, suite };
    await writeFile(join(dir, META_FILE), `${JSON.stringify(meta, null, 2)}\n`);
    onProgress(`cached ${header.release} in ${dir}`);
    return { ...meta, vmlinuz: join(dir, 'vmlinuz'), config: config === null ? null : join(dir, 'config') };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * A kernel name (`6.12`, `latest`), a cached release (`6.12.117+deb13-cloud-amd64`) or a path to any bzImage.
 * A name resolves to the newest cached image of that series; nothing is downloaded here. The image is checked
 * (readBzImage) whichever way it was named: a cut-off file would boot into a panic on every case.
 */
export async function resolveKernel(nameOrPath: string, options: KernelCacheOptions = {}): Promise<KernelImage> {
  const cached = await listKernels(options);
  const named = (KERNEL_NAMES as readonly string[]).includes(nameOrPath);
  const series = named ? KERNEL_SUITES[nameOrPath as KernelName].series : undefined;
  const hit = named
    ? cached.filter((k) => series === null || k.version.startsWith(`${series}.`)).at(-1)
    : cached.find((k) => k.release === nameOrPath);
  if (hit) {
    await readBzImage(hit.vmlinuz);
    return hit;
  }
  if (named) {
    throw new KptrError('KPTR_KERNEL_IMAGE_MISSING', `no ${nameOrPath} kernel image in the cache`, `run: npx kptr-conform kernels fetch ${nameOrPath}`);
  }
  const isFile = await stat(nameOrPath).then((s) => s.isFile(), () => false);
  if (!isFile) {
    throw new KptrError(
      'KPTR_KERNEL_IMAGE_MISSING',
      `${nameOrPath} is neither a kernel name (${KERNEL_NAMES.join(', ')}), a cached release nor a bzImage file`,
      'run: npx kptr-conform kernels list',
    );
  }
  const header = await readBzImage(nameOrPath);
  return { release: header.release, version: header.version, vmlinuz: resolve(nameOrPath), config: null, package: null, suite: null };
}

/**
 * The setup header of the bzImage at `path`, checked against the file: an x86 bzImage with a version string, as
 * long as its header says (a truncated download or a `head -c` of an image is refused here, not booted).
 */
export async function readBzImage(path: string): Promise<BzImageVersion> {
  const [head, size] = await Promise.all([readHead(path), stat(path).then((s) => s.size)]);
  const header = bzImageVersion(head);
  if (header === null) {
    throw new KptrError('KPTR_KERNEL_IMAGE_INVALID', `${path} is not an x86 bzImage (no setup header with a kernel version)`, 'pass a bzImage (arch/x86/boot/bzImage) or a kernel name');
  }
  if (size < header.imageSize) {
    throw new KptrError(
      'KPTR_KERNEL_IMAGE_INVALID',
      `${path} is cut off: ${size} bytes, its setup header says ${header.imageSize}`,
      'copy or download the image again (npx kptr-conform kernels fetch <name> for a Debian kernel)',
    );
  }
  return header;
}

/** apt options for one suite: own sources list, no sources.list.d, own lists directory. */
async function privateApt(cacheDir: string, suite: string): Promise<string[]> {
  const aptDir = join(cacheDir, 'apt', suite);
  await mkdir(join(aptDir, 'lists', 'partial'), { recursive: true });
  const sourcesList = join(aptDir, 'sources.list');
  await writeFile(sourcesList, `deb [arch=amd64] ${MIRROR} ${suite} main\n`);
  return [
    '-q',
    '-o', `Dir::Etc::sourcelist=${sourcesList}`,
    '-o', 'Dir::Etc::sourceparts=/dev/null',
    '-o', `Dir::State::Lists=${join(aptDir, 'lists')}`,
  ];
}

async function run(file: string, args: readonly string[], what: string, cwd?: string): Promise<string> {
  try {
    return (await execa(file, args, { cwd })).stdout;
  } catch (cause) {
    throw new KptrError('KPTR_KERNEL_FETCH_FAILED', `${what} failed`, 'check the network access to deb.debian.org and that apt-get and dpkg-deb exist', { cause });
  }
}

async function readMeta(dir: string): Promise<KernelImage | null> {
  try {
    const meta = JSON.parse(await readFile(join(dir, META_FILE), 'utf8')) as Omit<KernelImage, 'vmlinuz' | 'config'>;
    const config = await stat(join(dir, 'config')).then(() => join(dir, 'config'), () => null);
    await stat(join(dir, 'vmlinuz'));
    return { ...meta, vmlinuz: join(dir, 'vmlinuz'), config };
  } catch {
    return null;
  }
}

/** The first 64 KiB: enough for the setup header and the version string it points to. */
async function readHead(path: string): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function findFile(root: string, match: (name: string) => boolean): Promise<string | null> {
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && match(entry.name)) return join(entry.parentPath, entry.name);
  }
  return null;
}
