import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KptrError } from '../errors/KptrError.ts';
import { replaceFile } from '../reports/replaceFile.ts';

/**
 * The bug signatures a regression corpus has recorded (`--save-findings`), beside its scenarios: signature → the
 * finding id saved for it. A bug whose signature is here is reported "seen again", not new. Not `.yaml`: every YAML
 * file of the corpus is a scenario.
 */
export const SIGNATURES_FILE = 'bug-signatures.json';

/** The corpus's recorded signatures (none when it has no file yet); a malformed file is one KptrError. */
export function readCorpusSignatures(dir: string | null): Record<string, string> {
  if (dir === null) return {};
  const file = join(dir, SIGNATURES_FILE);
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new KptrError('KPTR_SCENARIO_INVALID', `${file}: not JSON (${(e as Error).message})`, `fix or remove ${file}`);
  }
  const ok = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    && Object.values(parsed).every((v) => typeof v === 'string');
  if (!ok) throw new KptrError('KPTR_SCENARIO_INVALID', `${file}: expected an object of signature → finding id strings`, `fix or remove ${file}`);
  return parsed as Record<string, string>;
}

/** Adds signatures to the corpus's file (replaced whole: a reader never sees half of it). */
export async function recordCorpusSignatures(dir: string, added: Readonly<Record<string, string>>): Promise<void> {
  const all = { ...readCorpusSignatures(dir), ...added };
  const sorted = Object.fromEntries(Object.entries(all).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  await replaceFile(join(dir, SIGNATURES_FILE), `${JSON.stringify(sorted, null, 2)}\n`);
}
