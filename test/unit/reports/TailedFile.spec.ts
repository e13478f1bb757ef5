import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiskFull } from '../../../errors/diskFull.ts';
import { slot, TailedFile } from '../../../reports/TailedFile.ts';
import { reporterOptions } from './fixtures/sample.ts';

describe('TailedFile', () => {
  it('should hold head, body and the current tail after every flush, with slots patched in place', async () => {
    const { outDir } = await reporterOptions();
    const path = join(outDir, 'sub', 'list.json');
    const f = new TailedFile(path, `{${slot('"n": 0,', 12)} "items": [`, ']}\n');
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ n: 0, items: [] });
    for (const [i, item] of ['a', 'b', 'c'].entries()) {
      f.append(`${i === 0 ? '' : ','}"${item}"`);
      f.patch(1, slot(`"n": ${i + 1},`, 12));
      f.flush();
      expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ n: i + 1, items: ['a', 'b', 'c'].slice(0, i + 1) });
    }
    f.append(',"d"', '], "done": true}\n');
    f.close();
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ n: 3, items: ['a', 'b', 'c', 'd'], done: true });
  });

  it('should write appends and patches made since the last write together, by itself within a quarter second', async () => {
    const { outDir } = await reporterOptions();
    const path = join(outDir, 'later.json');
    const f = new TailedFile(path, `{${slot('"n": 0,', 12)} "items": [`, ']}\n');
    f.flush();
    f.append('"a"');
    f.patch(1, slot('"n": 1,', 12));
    f.append(',"b"', '], "more": false}\n');
    f.patch(1, slot('"n": 2,', 12));
    // the last flush was just now: both wait for the timer, and the file on disk still parses
    expect(f.offset).toBe(Buffer.byteLength(`{${slot('"n": 0,', 12)} "items": ["a","b"`));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ n: 0, items: [] });
    await new Promise((r) => setTimeout(r, 600));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ n: 2, items: ['a', 'b'], more: false });
    f.append(',"c"');
    f.close();
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ n: 2, items: ['a', 'b', 'c'], more: false });
  });

  it('should write a burst of appends larger than any earlier one as UTF-8, multi-byte and lone surrogates included', async () => {
    const { outDir } = await reporterOptions();
    const path = join(outDir, 'burst.txt');
    const f = new TailedFile(path, 'head\n', 'tail\n');
    // 200 KB of text in one burst (under the flush threshold), every UTF-8 length: 1, 2, 3, 4 bytes, and U+FFFD for the lone surrogate
    const texts = Array.from({ length: 2000 }, (_, i) => `${i} ascii µ → 😀 \uD800 ${'x'.repeat(80)}\n`);
    for (const t of texts) f.append(t);
    f.close();
    expect(await readFile(path)).toEqual(Buffer.from(`head\n${texts.join('')}tail\n`));
  });

  it('should turn a full disk into KPTR_DISK_FULL naming the file', () => {
    // /dev/full: every write fails with ENOSPC
    let error: unknown = null;
    try {
      new TailedFile('/dev/full', '<a>', '</a>');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DiskFull);
    expect((error as DiskFull).oneLine()).toBe('KPTR_DISK_FULL: no space left on /dev/full — free space or pass --out elsewhere');
  });

  it('should refuse slot text wider than its slot', () => {
    expect(() => slot('x'.repeat(5), 4)).toThrow(/longer than 4/);
  });
});
