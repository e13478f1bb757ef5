import { describe, expect, it } from 'vitest';
import { bzImageVersion } from '../../../../runners/vm/bzImageVersion.ts';

/** The first bytes of a bzImage: setup header magic, boot protocol and kernel_version pointing at `banner`. */
function header(banner: string, options: { magic?: string; protocol?: number; pointer?: number } = {}): Uint8Array {
  const image = new Uint8Array(0x4000);
  const view = new DataView(image.buffer);
  image.set(new TextEncoder().encode(options.magic ?? 'HdrS'), 0x202);
  view.setUint16(0x206, options.protocol ?? 0x20f, true);
  const pointer = options.pointer ?? 0x3000;
  view.setUint16(0x20e, pointer, true);
  image.set(new TextEncoder().encode(`${banner}\0`), pointer + 0x200);
  return image;
}

describe('bzImageVersion', () => {
  it('should read release and version of a Debian 6.12 image', () => {
    const banner = '6.12.117+deb13-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.12.117-1 (2026-11-01)';
    expect(bzImageVersion(header(banner))).toEqual({ banner, release: '6.12.117+deb13-cloud-amd64', version: '6.12.117' });
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
