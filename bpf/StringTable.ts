/** A NUL-separated string table (ELF .strtab, the BTF string section): offset 0 is "", each string stored once. */
export class StringTable {
  private readonly offsets = new Map<string, number>([['', 0]]);
  /**
   * the table so far, written as each string is added (no list of parts joined and encoded at the end); the NULs are
   * the zeroes the buffer starts with
   */
  private buf = new Uint8Array(1024);
  private size = 1;

  add(s: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    const off = this.size;
    this.offsets.set(s, off);
    this.room(s.length + 1);
    let i = 0;
    // ASCII (names are) byte by byte: a native call per string was a share of writing an object
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      this.buf[off + i] = c;
    }
    if (i === s.length) {
      this.size += i + 1;
      return off;
    }
    const utf8 = Buffer.from(s, 'utf8');
    this.room(utf8.length + 1);
    this.buf.set(utf8, off);
    this.size += utf8.length + 1;
    return off;
  }

  /** the table's bytes: a view of its buffer, to take when done adding */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.size);
  }

  /** room for `n` more bytes */
  private room(n: number): void {
    if (this.size + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(2 * this.buf.length, this.size + n));
    grown.set(this.buf.subarray(0, this.size));
    this.buf = grown;
  }
}

/**
 * A lookup of the NUL-terminated string at a byte offset of a string table: null when the offset is outside the table
 * or the string is unterminated. The table is decoded once (ASCII, as clang's names are, is sliced directly).
 */
export function stringReader(table: Uint8Array): (off: number) => string | null {
  const buf = Buffer.from(table.buffer, table.byteOffset, table.byteLength);
  // one native scan, not a callback per byte: objects' string tables run to tens of kilobytes
  const latin1 = buf.toString('latin1');
  // a char at or above 0x80 takes two UTF-8 bytes: a native count, where a regular expression scan took 10x longer
  const ascii = Buffer.byteLength(latin1, 'utf8') === latin1.length;
  const text = ascii ? latin1 : '';
  return (off) => {
    if (!Number.isInteger(off) || off < 0 || off >= table.length) return null;
    // latin1 has a char per byte: its indexOf, not the byte array's (a native call per name was a share of a read)
    const end = latin1.indexOf('\0', off);
    if (end < 0) return null;
    return ascii ? text.slice(off, end) : buf.toString('utf8', off, end);
  };
}
