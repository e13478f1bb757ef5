/**
 * A whole (tiny) bzImage as its setup header describes it: 4 setup sectors after the boot sector, a kernel_version
 * string, and `syssize` 16-byte units of protected-mode code (zeros). Enough for bzImageVersion and readBzImage.
 */
export function bzImageFile(banner: string, options: { magic?: string; protocol?: number; pointer?: number; syssize?: number } = {}): Uint8Array {
  const setupSects = 4;
  const syssize = options.syssize ?? 0x3000;
  const image = new Uint8Array((setupSects + 1) * 512 + syssize * 16);
  const view = new DataView(image.buffer);
  image[0x1f1] = setupSects;
  view.setUint32(0x1f4, syssize, true);
  image.set(new TextEncoder().encode(options.magic ?? 'HdrS'), 0x202);
  view.setUint16(0x206, options.protocol ?? 0x20f, true);
  const pointer = options.pointer ?? 0x600;
  view.setUint16(0x20e, pointer, true);
  image.set(new TextEncoder().encode(`${banner}\0`), pointer + 0x200);
  return image;
}
