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
    this.size += Buffer.byteLength(s) + 1;
    return off;
  }

  bytes(): Uint8Array {
    return Buffer.from(this.parts.map((p) => `${p}\0`).join(''));
  }
}

/** The NUL-terminated string at `off` of a string table, or null when `off` is outside it or the string is unterminated. */
export function stringAt(table: Uint8Array, off: number): string | null {
  if (off < 0 || off >= table.length) return null;
  const end = table.indexOf(0, off);
  if (end < 0) return null;
  return Buffer.from(table.buffer, table.byteOffset + off, end - off).toString('utf8');
}
