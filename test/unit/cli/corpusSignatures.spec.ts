import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCorpusSignatures, recordCorpusSignatures, SIGNATURES_FILE } from '../../../cli/corpusSignatures.ts';
import { errorOf } from '../../helpers/errorOf.ts';

describe('corpus bug signatures', () => {
  it('should read none from a corpus without the file, and read back what was recorded, merged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kptr-sigs-'));
    expect(readCorpusSignatures(dir)).toEqual({});
    expect(readCorpusSignatures(null)).toEqual({});
    await recordCorpusSignatures(dir, { 'b @ 6.18': 'f2' });
    await recordCorpusSignatures(dir, { 'a @ 6.18': 'f1' });
    expect(readCorpusSignatures(dir)).toEqual({ 'a @ 6.18': 'f1', 'b @ 6.18': 'f2' });
    expect(Object.keys(JSON.parse(await readFile(join(dir, SIGNATURES_FILE), 'utf8')))).toEqual(['a @ 6.18', 'b @ 6.18']);
  });

  it('should refuse a malformed file with one KptrError naming it', () => {
    for (const text of ['{', '[]', '{"a": 1}']) {
      const dir = mkdtempSync(join(tmpdir(), 'kptr-sigs-'));
      writeFileSync(join(dir, SIGNATURES_FILE), text);
      const e = errorOf(() => readCorpusSignatures(dir));
      expect(e).toMatchObject({ code: 'KPTR_SCENARIO_INVALID' });
      expect(e.message).toContain(join(dir, SIGNATURES_FILE));
    }
  });
});
