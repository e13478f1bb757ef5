import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bzImageVersion } from '../../../../runners/vm/bzImageVersion.ts';
import { readBzImage } from '../../../../runners/vm/kernelImages.ts';
import { bzImageFile } from './bzImageFile.ts';

/** The first 64 KiB, as kernelImages.ts reads them. */
const header = (banner: string, options: Parameters<typeof bzImageFile>[1] = {}): Uint8Array => bzImageFile(banner, options).subarray(0, 64 * 1024);

describe('bzImageVersion', () => {
  it('should read release and version of a Debian 6.12 image', () => {
    const banner = '6.12.117+deb13-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.12.117-1 (2026-11-01)';
    expect(bzImageVersion(header(banner))).toEqual({ banner, release: '6.12.117+deb13-cloud-amd64', version: '6.12.117', imageSize: 5 * 512 + 0x3000 * 16 });
  });

  it('should take the patch level from the Debian version when the release hides it (6.1.0-50)', () => {
    const banner = '6.1.0-50-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2026-10-10)';
    expect(bzImageVersion(header(banner))?.version).toBe('6.1.158');
  });

  it('should fall back to the release for a self-built kernel', () => {
    expect(bzImageVersion(header('7.3.0-rc1-dirty (me@box) #4 SMP'))).toMatchObject({ release: '7.3.0-rc1-dirty', version: '7.3.0' });
  });

  it('should refuse bytes that are not a bzImage', () => {
    expect(bzImageVersion(header('6.12.1 x', { magic: 'ELF!' }))).toBeNull();
    expect(bzImageVersion(header('6.12.1 x', { protocol: 0x105 }))).toBeNull();
    expect(bzImageVersion(header('6.12.1 x', { pointer: 0 }))).toBeNull();
    expect(bzImageVersion(new Uint8Array(16))).toBeNull();
  });
});

describe('readBzImage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kptr-bzimage-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const banner = '6.12.1 (me@box) #1 SMP';

  it('should take a whole image, and one with a signature appended', async () => {
    const whole = bzImageFile(banner);
    writeFileSync(join(dir, 'whole'), whole);
    writeFileSync(join(dir, 'signed'), new Uint8Array([...whole, ...new Uint8Array(1000)]));
    expect(await readBzImage(join(dir, 'whole'))).toMatchObject({ release: '6.12.1' });
    expect(await readBzImage(join(dir, 'signed'))).toMatchObject({ release: '6.12.1' });
  });

  it('should refuse a cut-off image (head -c of a bzImage) with one line saying so', async () => {
    writeFileSync(join(dir, 'cut'), bzImageFile(banner).subarray(0, 100_000));
    const e = await readBzImage(join(dir, 'cut')).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'KPTR_KERNEL_IMAGE_INVALID' });
    expect(String((e as Error).message)).toMatch(/cut off: 100000 bytes, its setup header says 199168$/);
  });

  it('should refuse a file that is not a bzImage', async () => {
    writeFileSync(join(dir, 'text'), 'not a kernel\n');
    await expect(readBzImage(join(dir, 'text'))).rejects.toMatchObject({ code: 'KPTR_KERNEL_IMAGE_INVALID' });
  });
});
