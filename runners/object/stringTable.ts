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
