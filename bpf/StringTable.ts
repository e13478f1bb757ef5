/** A NUL-separated string table (ELF .strtab, the BTF string section): offset 0 is "", each string stored once. */
export class StringTable {
  private readonly parts: string[] = [''];
  private readonly offsets = new Map<string, number>([['', 0]]);
  private size = 1;

  add(s: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    const off = this.size;
    this.parts.push(s);
    this.offsets.set(s, off);
    this.size += utf8Length(s) + 1;
    return off;
  }

  bytes(): Uint8Array {
    return Buffer.from(`${this.parts.join('\0')}\0`);
  }
}

/** UTF-8 bytes of `s`: its length when ASCII (names are; a native call per string was a share of writing an object) */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s);
  return s.length;
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
