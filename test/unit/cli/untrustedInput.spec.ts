import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kptrConform } from '../../helpers/cli.ts';

// A scenario or corpus file that is wrong is one line naming the file, the YAML path and what was expected, exit 2,
// before any work: no output directory, no kernel touched, never a finding.

const dir = mkdtempSync(join(tmpdir(), 'kptr-untrusted-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = 'id: s1\ndescription: x\norigin: null\nintent: {kind: valid}\nstructs: [{name: val_t, members: [{kind: scalar, name: c, ctype: __u64, count: null}]}]\nslots: []\nglobals: []\n'
  + 'programs: [{name: p0, progType: tc, license: GPL, vars: [], ops: []}]\nschedule: [{program: p0, cpu: 0, repeat: 1}]\n';

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function refused(args: readonly string[], line: RegExp): Promise<void> {
  const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
  const r = await kptrConform([...args, '--out', out]);
  expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(line);
  expect(existsSync(out)).toBe(false);
}

describe('replay FILE and run --corpus DIR with bad input', () => {
  it.each<[string, string, RegExp]>([
    ['a schedule naming a missing program', GOOD.replace('program: p0, cpu', 'program: p9, cpu'), /KPTR_SCENARIO_INVALID: \S+missing\.yaml: schedule\[0\]\.program: no program 'p9' — /],
    ['a repeat of 2^53-1', GOOD.replace('repeat: 1', 'repeat: 9007199254740991'), /KPTR_SCENARIO_INVALID: \S+repeat\.yaml: schedule\[0\]\.repeat: expected a repeat count in \[1, 1000\], got number 9007199254740991 — /],
    ['an alias bomb', `${GOOD}l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 9 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(10).fill(`*l${i}`).join(', ')}]`).join('\n')}\n`, /KPTR_SCENARIO_INVALID: \S+bomb\.yaml: expected at most 200000 values/],
  ])('should refuse %s in replay with one line and exit 2', async (_what, text, line) => {
    const name = line.source.includes('missing') ? 'missing.yaml' : line.source.includes('repeat') ? 'repeat.yaml' : 'bomb.yaml';
    await refused(['replay', file(name, text), '--runner', 'host'], line);
  });

  it('should refuse a missing corpus directory, a file given as one, and a bad entry before any work', async () => {
    await refused(['run', '--runner', 'host', '--runs', '1', '--corpus', join(dir, 'nonexistent')], /KPTR_USAGE: \S+nonexistent: cannot list the directory: ENOENT — /);
    await refused(['run', '--runner', 'host', '--runs', '1', '--corpus', file('entry.yaml', GOOD)], /KPTR_USAGE: \S+entry\.yaml: expected a directory — /);
    const corpus = mkdtempSync(join(dir, 'corpus-'));
    writeFileSync(join(corpus, 'a.yaml'), GOOD.replace('program: p0, cpu', 'program: p9, cpu'));
    await refused(['run', '--runner', 'host', '--runs', '1', '--corpus', corpus], /KPTR_SCENARIO_INVALID: \S+a\.yaml: schedule\[0\]\.program: no program 'p9'/);
  });
});
