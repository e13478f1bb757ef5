import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { orDiskFull } from '../errors/diskFull.ts';

/**
 * Writes a whole file beside its final name and renames it into place, so a write cut short (a full disk, a second
 * Ctrl-C) leaves the previous file or none, never half of one.
 * @throws KptrError KPTR_DISK_FULL
 */
export async function replaceFile(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await orDiskFull(path, async () => {
    await mkdir(dirname(path), { recursive: true });
    try {
      await writeFile(tmp, text);
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  });
}
