import { closeSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { diskFull, isNoSpace } from '../errors/diskFull.ts';

/**
 * A report file that is complete after every write: a head, the body appended so far, and a tail (closing tags,
 * closing brackets) rewritten after each append, so a run stopped at any point (a signal, a crash, a full disk)
 * leaves a file a parser reads. Counts that belong in the head live in fixed-width slots patched in place.
 * Writes are synchronous: a case is on disk (in the page cache) when its reporter returns.
 */
export class TailedFile {
  private fd: number | null;
  /** bytes in the file, tail included */
  private size = 0;
  private tail: Buffer;

  /** Creates (or truncates) `path` with `head` + `tail`. @throws KptrError KPTR_DISK_FULL */
  constructor(readonly path: string, head: string, tail: string) {
    this.tail = Buffer.from(tail);
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.fd = openSync(path, 'w');
      this.writeAt(Buffer.concat([Buffer.from(head), this.tail]), 0);
    } catch (e) {
      throw isNoSpace(e) ? diskFull(path, e) : e;
    }
  }

  /** Byte offset at which the next appended text starts. */
  get offset(): number {
    return this.size - this.tail.length;
  }

  /**
   * Writes `text` where the tail was, then `tail` (the current one when omitted). A failed write (disk full) leaves
   * the file as it was before the call: the partial text is cut off and the old tail written back in bytes the file
   * already had.
   * @throws KptrError KPTR_DISK_FULL
   */
  append(text: string, tail?: string): void {
    const oldTail = this.tail;
    const oldSize = this.size;
    const newTail = tail === undefined ? oldTail : Buffer.from(tail);
    try {
      this.writeAt(Buffer.concat([Buffer.from(text), newTail]), this.offset);
      this.tail = newTail;
    } catch (e) {
      try {
        ftruncateSync(this.open(), oldSize);
        this.writeAt(oldTail, oldSize - oldTail.length);
        this.size = oldSize;
      } catch {
        // the file keeps whatever the failed write left; the error below says it could not be written
      }
      throw isNoSpace(e) ? diskFull(this.path, e) : e;
    }
  }

  /** Overwrites bytes already in the file (a count slot in the head): needs no new room on disk. */
  patch(offset: number, text: string): void {
    try {
      this.writeAt(Buffer.from(text), offset);
    } catch (e) {
      throw isNoSpace(e) ? diskFull(this.path, e) : e;
    }
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }

  private open(): number {
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    return this.fd;
  }

  private writeAt(buf: Buffer, position: number): void {
    const fd = this.open();
    // a write the disk cuts short returns a short count; the next one throws ENOSPC
    for (let done = 0; done < buf.length;) done += writeSync(fd, buf, done, buf.length - done, position + done);
    this.size = Math.max(this.size, position + buf.length);
  }
}

/** A fixed-width slot's text: `text` padded with spaces, which XML and JSON both skip between attributes or keys. */
export function slot(text: string, width: number): string {
  if (text.length > width) throw new Error(`slot text longer than ${width}: ${text}`);
  return text.padEnd(width);
}
