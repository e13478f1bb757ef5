import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kptrConform, REPO_ROOT } from '../../helpers/cli.ts';
import { bzImageFile } from '../runners/vm/bzImageFile.ts';

// Every bad option or environment is one line on stderr and exit 2, before any work: nothing on stdout, no output
// directory made, no kernel touched (so these need no privileges). One CLI run per row of issue 10's table that is an
// option; test/unit/cli/config.spec.ts and preflight.spec.ts hold the variations.

const base = mkdtempSync(join(tmpdir(), 'kptr-usage-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const aFile = join(base, 'a-file');
writeFileSync(aFile, 'x');
const cutImage = join(base, 'bzImage-cut');
writeFileSync(cutImage, bzImageFile('6.12.1 (me@box) #1 SMP').subarray(0, 100_000));
const earlier = join(base, 'earlier');
mkdirSync(join(earlier, 'findings', 'old'), { recursive: true });
writeFileSync(join(earlier, 'summary.json'), '{"failed":0}');
const scenario = join(REPO_ROOT, 'specs/regressions', readdirSync(join(REPO_ROOT, 'specs/regressions')).find((f) => f.endsWith('.yaml'))!);

const out = (name: string): string => join(base, `out-${name}`);
const run = (name: string, ...args: string[]): string[] => ['run', '--runs', '1', '--quiet', '--out', out(name), ...args];

const cases: readonly (readonly [string, readonly string[], RegExp])[] = [
  ['--out /proc/foo (spun forever)', ['run', '--runs', '1', '--out', '/proc/foo'], /KPTR_OUTPUT_UNUSABLE: --out \/proc\/foo: cannot create it \(ENOENT/],
  ['--out an existing file', ['run', '--runs', '1', '--out', aFile], /KPTR_OUTPUT_UNUSABLE: .*it is not a directory/],
  ['--out file/sub', ['run', '--runs', '1', '--out', join(aFile, 'sub')], /KPTR_OUTPUT_UNUSABLE: .*is not a directory/],
  ["--out ''", ['run', '--runs', '1', '--out', ''], /KPTR_USAGE: --out is empty/],
  ['--out holding an earlier run', ['run', '--runs', '1', '--out', earlier], /KPTR_OUTPUT_IN_USE: .*holds an earlier run \(summary\.json, findings\).*--force/],
  ['--seed 99999999999999999999999', run('seed-big', '--seed', '99999999999999999999999'), /KPTR_USAGE: --seed must be an integer from 0 to 4294967295/],
  ['--seed 4294967297 (was seed 1)', run('seed-wrap', '--seed', '4294967297'), /KPTR_USAGE: --seed must be an integer from 0 to 4294967295/],
  ['--runner vm --kernels ,', run('kernels-comma', '--runner', 'vm', '--kernels', ','), /KPTR_USAGE: --kernels ',' has an empty kernel name/],
  ['--runner host --kernel 6.1', run('host-kernel', '--runner', 'host', '--kernel', '6.1'), /KPTR_USAGE: --kernel applies to the vm runner only/],
  ['--kernels bogus without --runner', run('auto-kernels', '--kernels', 'bogus'), /KPTR_USAGE: --kernels needs --runner: without it the runner depends on the machine/],
  ['a cut-off bzImage', run('vm-cut', '--runner', 'vm', '--kernel', cutImage), /KPTR_KERNEL_IMAGE_INVALID: .* is cut off: 100000 bytes/],
  ['selftests --filter nomatch', ['selftests', '--quiet', '--filter', 'nomatch', '--out', out('nomatch')], /KPTR_USAGE: --filter 'nomatch' matches none of the \d+ built-in cases/],
  ['replay --kernels (checked like run)', ['replay', scenario, '--runner', 'vm', '--kernels', `bogus-${process.pid}`, '--out', out('replay')], /KPTR_KERNEL_IMAGE_MISSING: bogus-\d+/],
];

describe.concurrent('kptr-conform with a bad option or environment', () => {
  for (const [what, args, line] of cases) {
    it(`should refuse ${what} with one line and exit 2, before any work`, async () => {
      const r = await kptrConform(args);
      expect(r.stderr).toMatch(line);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toContain('internal error');
      expect(r.stdout).toBe('');
      expect(r.exitCode).toBe(2);
      const outDir = args[args.indexOf('--out') + 1]!;
      if (outDir.startsWith(join(base, 'out-'))) expect(existsSync(outDir)).toBe(false);
    }, 60_000);
  }

  it('should leave an earlier run untouched when refusing it', () => {
    expect(readdirSync(earlier).sort()).toEqual(['findings', 'summary.json']);
  });
});
