import { closeSync, constants, openSync, readSync } from 'node:fs';

/**
 * New kernel console records since the last call, read from /dev/kmsg (one record per read, EAGAIN at the end).
 * Opening the reader skips everything already logged, so a splat from before the run is never blamed on it.
 * Returns null when /dev/kmsg cannot be read (no root, dmesg_restrict).
 */
export class KmsgReader {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(64 * 1024);

  private constructor(fd: number) {
    this.fd = fd;
  }

  static open(): KmsgReader | null {
    try {
      const r = new KmsgReader(openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK));
      r.drain();
      return r;
    } catch {
      return null;
    }
  }

  /** The text of the records logged since the previous call, one line per record. */
  drain(): string {
    const lines: string[] = [];
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (e) {
        // EPIPE: records were overwritten before we read them; the read position has moved on, keep reading
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') continue;
        break; // EAGAIN: nothing more
      }
      if (n <= 0) break;
      const record = this.buf.toString('utf8', 0, n);
      // `prio,seq,ts,flags;message\n` then optional ` KEY=value` dictionary lines
      const body = record.slice(record.indexOf(';') + 1).split('\n')[0] ?? '';
      lines.push(body);
    }
    return lines.join('\n');
  }

  close(): void {
    closeSync(this.fd);
  }
}
