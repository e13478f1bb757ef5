import { closeSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { diskFull, isNoSpace } from '../errors/diskFull.ts';

/** Appended text or a patched slot not yet on disk, in the order the reporter made them. */
type Pending = { readonly text: string; readonly tail: string | undefined } | { readonly at: number; readonly text: string };

/** Appends wait at most this long, or until this much text (UTF-16 units) is waiting, before they are written. */
const FLUSH_AFTER_MS = 250;
const FLUSH_AFTER_CHARS = 256 * 1024;

/**
 * A report file that is complete after every flush: a head, the body appended so far, and a tail (closing tags,
 * closing brackets) rewritten after the body, so a run stopped at any point (a signal, a crash, a full disk) leaves a
 * file a parser reads. Counts that belong in the head live in fixed-width slots patched in place.
 * Appends and patches are written together within FLUSH_AFTER_MS (a timer, the next append, flush() or close()): one
 * write per file per burst of cases instead of three per case, which was a third of a fast campaign's report cost.
 * A process killed outright (SIGKILL) can lose that last fraction of a second; signals and errors end in close().
 */
export class TailedFile {
  private fd: number | null;
  /** bytes in the file, tail included */
  private size = 0;
  private tail: Buffer;
  private pending: Pending[] = [];
  /** characters of appended text in `pending` (what the flush threshold counts) */
  private pendingChars = 0;
  /** bytes of appended text in pending[0, counted): counted when `offset` is asked, which few reporters do */
  private pendingBytes = 0;
  private counted = 0;
  private lastFlush = performance.now();
  private timer: NodeJS.Timeout | null = null;
  /** a write the timer's flush could not make, thrown to the reporter's next call */
  private deferred: unknown = null;

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

  /** Byte offset at which the next appended text starts (written or not). */
  get offset(): number {
    for (; this.counted < this.pending.length; this.counted++) {
      const p = this.pending[this.counted]!;
      if (!('at' in p)) this.pendingBytes += Buffer.byteLength(p.text);
    }
    return this.size - this.tail.length + this.pendingBytes;
  }

  /**
   * Appends `text` where the tail is, then `tail` (the current one when omitted).
   * @throws KptrError KPTR_DISK_FULL when this or an earlier append could not be written: the file keeps every
   * append before the one that did not fit, and its tail
   */
  append(text: string, tail?: string): void {
    this.throwDeferred();
    this.pending.push({ text, tail });
    this.pendingChars += text.length;
    this.schedule();
  }

  /** Overwrites bytes already in the file or appended (a count slot in the head): needs no new room on disk. */
  patch(offset: number, text: string): void {
    this.throwDeferred();
    this.pending.push({ at: offset, text });
    this.schedule();
  }

  /** Writes what is waiting. @throws KptrError KPTR_DISK_FULL (as append) */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.lastFlush = performance.now();
    this.throwDeferred();
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    this.pendingChars = 0;
    this.pendingBytes = 0;
    this.counted = 0;
    const texts: string[] = [];
    let tail: string | undefined;
    const slots = new Map<number, string>();
    for (const p of pending) {
      if ('at' in p) {
        slots.set(p.at, p.text);
      } else {
        texts.push(p.text);
        tail = p.tail ?? tail;
      }
    }
    try {
      this.appendNow(texts, tail);
    } catch {
      // one at a time, as they were made, so the file keeps every append that fits; the first that does not throws
      for (const p of pending) if ('at' in p) this.patchNow(p.at, p.text); else this.appendNow([p.text], p.tail);
      return;
    }
    for (const [at, slotText] of slots) this.patchNow(at, slotText);
  }

  /** Writes what is waiting and closes the file. @throws KptrError KPTR_DISK_FULL (as append; the file is closed) */
  close(): void {
    if (this.fd === null) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  private schedule(): void {
    if (this.pendingChars >= FLUSH_AFTER_CHARS || performance.now() - this.lastFlush >= FLUSH_AFTER_MS) {
      this.flush();
      return;
    }
    // unref: a waiting write never keeps the process alive (close() writes it)
    this.timer ??= setTimeout(() => {
      this.timer = null;
      try {
        this.flush();
      } catch (e) {
        this.deferred = e;
      }
    }, FLUSH_AFTER_MS).unref();
  }

  private throwDeferred(): void {
    const e = this.deferred;
    if (e === null) return;
    this.deferred = null;
    throw e;
  }

  /**
   * Writes `texts` where the tail was, then the tail. A failed write (disk full) leaves the file as it was before the
   * call: the partial text is cut off and the old tail written back in bytes the file already had.
   */
  private appendNow(texts: readonly string[], tail: string | undefined): void {
    const oldTail = this.tail;
    const oldSize = this.size;
    const newTail = tail === undefined ? oldTail : Buffer.from(tail);
    try {
      this.writeAt(encode(texts, newTail), oldSize - oldTail.length);
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

  private patchNow(offset: number, text: string): void {
    try {
      this.writeAt(Buffer.from(text), offset);
    } catch (e) {
      throw isNoSpace(e) ? diskFull(this.path, e) : e;
    }
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

/**
 * One buffer for every append (writes are synchronous): a burst's texts are encoded into it one after the other
 * rather than joined into one string, encoded into a new Buffer and copied again beside the tail.
 */
let scratch = Buffer.allocUnsafe(64 * 1024);

/** `texts` then `tail` as UTF-8 (what Buffer.from writes), in `scratch`: valid until the next call. */
function encode(texts: readonly string[], tail: Buffer): Buffer {
  let n = 0;
  for (const text of texts) {
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 for 2)
    reserve(n, 3 * text.length);
    n += scratch.write(text, n);
  }
  reserve(n, tail.length);
  n += tail.copy(scratch, n);
  return scratch.subarray(0, n);
}

/** Grows `scratch` (keeping its first `used` bytes) so `more` bytes fit after them. */
function reserve(used: number, more: number): void {
  if (used + more <= scratch.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(2 * scratch.length, used + more));
  scratch.copy(bigger, 0, 0, used);
  scratch = bigger;
}

/** A fixed-width slot's text: `text` padded with spaces, which XML and JSON both skip between attributes or keys. */
export function slot(text: string, width: number): string {
  if (text.length > width) throw new Error(`slot text longer than ${width}: ${text}`);
  return text.padEnd(width);
}
