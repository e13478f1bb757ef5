import { KptrError } from './KptrError.ts';

/** errno codes that mean "the file system has no room": full, or over quota. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/** What a tool (clang, the harness) prints when a write fails for lack of room: strerror(ENOSPC) / strerror(EDQUOT). */
const NO_SPACE_TEXT = /No space left on device|Disk quota exceeded/;

/** The one error a full disk becomes, wherever the write was (our files, the harness's output, clang's object). */
export class DiskFull extends KptrError {
  constructor(readonly path: string, cause?: unknown) {
    super('KPTR_DISK_FULL', `no space left on ${path}`, 'free space or pass --out elsewhere', { cause });
  }
}

export function diskFull(path: string, cause?: unknown): DiskFull {
  return new DiskFull(path, cause);
}

/** A Node fs error that is a full disk. */
export function isNoSpace(e: unknown): boolean {
  return typeof e === 'object' && e !== null && NO_SPACE.has((e as { code?: unknown }).code as string);
}

/** A child's stderr that says its write failed for lack of room. */
export function saysNoSpace(stderr: string): boolean {
  return NO_SPACE_TEXT.test(stderr);
}

/** Runs `write`; a full disk becomes KPTR_DISK_FULL naming `path`, anything else is rethrown as it is. */
export async function orDiskFull<T>(path: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    throw isNoSpace(e) ? diskFull(path, e) : e;
  }
}
