/** What the setup header of an x86 bzImage says about the kernel inside. */
export interface BzImageVersion {
  /** the whole version string, `6.12.117+deb13-cloud-amd64 (debian-kernel@…) #1 SMP PREEMPT_DYNAMIC Debian 6.12.117-1 (…)` */
  readonly banner: string;
  /** `uname -r`: the banner's first word */
  readonly release: string;
  /** numeric `major.minor.patch`: the distribution's upstream version when the banner names one, else from the release */
  readonly version: string;
  /**
   * bytes the whole image has according to its setup header: the setup sectors and the protected-mode code
   * (`(setup_sects + 1) * 512 + syssize * 16`); a file shorter than this was cut off (a signed image is longer)
   */
  readonly imageSize: number;
}

// Offsets of the x86 boot protocol (Documentation/arch/x86/boot.rst): "HdrS" at 0x202, protocol version at 0x206,
// kernel_version at 0x20E, a pointer to a NUL-terminated string, relative to 0x200.
const HEADER_MAGIC_OFFSET = 0x202;
const PROTOCOL_OFFSET = 0x206;
const KERNEL_VERSION_OFFSET = 0x20e;
// setup_sects at 0x1F1 (0 means 4), syssize at 0x1F4 (16-byte units, from protocol 2.04 on)
const SETUP_SECTS_OFFSET = 0x1f1;
const SYSSIZE_OFFSET = 0x1f4;
/** kernel_version exists from boot protocol 2.00 on, a trustworthy syssize from 2.04 */
const MIN_PROTOCOL = 0x204;
const MAX_BANNER = 512;

/**
 * Reads the kernel version string of a bzImage from its first bytes (the setup sectors; 64 KiB is always enough).
 * Returns null when the bytes are not a bzImage with a version string.
 */
export function bzImageVersion(image: Uint8Array): BzImageVersion | null {
  if (image.length < KERNEL_VERSION_OFFSET + 2) return null;
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const magic = String.fromCharCode(...image.subarray(HEADER_MAGIC_OFFSET, HEADER_MAGIC_OFFSET + 4));
  if (magic !== 'HdrS' || view.getUint16(PROTOCOL_OFFSET, true) < MIN_PROTOCOL) return null;
  const pointer = view.getUint16(KERNEL_VERSION_OFFSET, true);
  if (pointer === 0) return null;
  const start = pointer + 0x200;
  const end = image.indexOf(0, start);
  if (start >= image.length || end < 0 || end - start > MAX_BANNER) return null;
  const banner = new TextDecoder('latin1').decode(image.subarray(start, end));
  const release = banner.split(' ')[0] ?? '';
  const version = versionFromBanner(banner, release);
  const setupSects = image[SETUP_SECTS_OFFSET] || 4;
  const imageSize = (setupSects + 1) * 512 + view.getUint32(SYSSIZE_OFFSET, true) * 16;
  return version === null ? null : { banner, release, version, imageSize };
}

/** `Debian 6.1.158-1` in the banner beats the release (`6.1.0-40-cloud-amd64` hides the patch level). */
function versionFromBanner(banner: string, release: string): string | null {
  const distro = / Debian (\d+\.\d+\.\d+)/.exec(banner);
  if (distro?.[1]) return distro[1];
  const fromRelease = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!fromRelease) return null;
  return `${fromRelease[1]}.${fromRelease[2]}.${fromRelease[3] ?? '0'}`;
}
