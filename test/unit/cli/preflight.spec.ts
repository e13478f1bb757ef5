import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../cli/config.ts';
import { preflight, prepareOutDir, RUN_OUTPUTS } from '../../../cli/preflight.ts';
import { KptrError } from '../../../errors/KptrError.ts';
import { errorOf } from '../../helpers/errorOf.ts';
import { bzImageFile } from '../runners/vm/bzImageFile.ts';

const base = mkdtempSync(join(tmpdir(), 'kptr-preflight-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const ctx = { command: 'run', now: new Date('2026-11-25T00:00:00Z'), randomSeed: 7, formatNames: ['jsonl'], cwd: base, repoRoot: base };

async function rejection(p: Promise<unknown>): Promise<KptrError> {
  const e = await p.then(() => new Error('expected a KptrError'), (x: unknown) => x);
  if (e instanceof KptrError) return e;
  throw e;
}

describe('prepareOutDir', () => {
  it('should create a missing directory, nested ones included, and leave no probe file behind', () => {
    const dir = join(base, 'new', 'a', 'b');
    prepareOutDir(dir, false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('should refuse with one line, never spin, where the directory cannot be made or written', () => {
    const file = join(base, 'a-file');
    writeFileSync(file, 'x');
    // /proc/foo: Node's recursive mkdir retried ENOENT forever there; /proc exists but takes no new entries
    for (const [dir, why] of [['/proc/foo', /cannot create it \(ENOENT/], [file, /is not a directory|it is not a directory/], [join(file, 'sub'), /is not a directory/], ['/proc', /cannot write into it/]] as const) {
      const e = errorOf(() => prepareOutDir(dir, false));
      expect(e.code).toBe('KPTR_OUTPUT_UNUSABLE');
      expect(e.oneLine()).toMatch(why);
      expect(e.oneLine()).not.toContain('\n');
    }
  });

  it('should refuse a directory holding an earlier run, naming what is there, and change nothing', () => {
    const dir = join(base, 'earlier');
    mkdirSync(join(dir, 'findings', 'f1'), { recursive: true });
    writeFileSync(join(dir, 'summary.json'), '{}');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const e = errorOf(() => prepareOutDir(dir, false));
    expect(e.code).toBe('KPTR_OUTPUT_IN_USE');
    expect(e.message).toContain('summary.json, findings');
    expect(e.hint).toContain('--force');
    expect(readdirSync(dir).sort()).toEqual(['findings', 'notes.txt', 'summary.json']);
  });

  it('should with force remove exactly the files a run writes and keep everything else', () => {
    const dir = join(base, 'forced');
    mkdirSync(join(dir, 'findings', 'f1'), { recursive: true });
    mkdirSync(join(dir, '.work', 'host-host'), { recursive: true });
    for (const f of RUN_OUTPUTS.filter((x) => x.includes('.') && x !== '.work')) writeFileSync(join(dir, f), 'old');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    mkdirSync(join(dir, 'mine'));
    prepareOutDir(dir, true);
    expect(readdirSync(dir).sort()).toEqual(['mine', 'notes.txt']);
  });

  it('should follow a symlink to a directory', () => {
    const real = join(base, 'real-out');
    mkdirSync(real);
    symlinkSync(real, join(base, 'linked-out'));
    prepareOutDir(join(base, 'linked-out'), false);
    expect(readdirSync(real)).toEqual([]);
  });

  it('should take an existing empty directory, or one with only other files, without --force', () => {
    const dir = join(base, 'other');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    prepareOutDir(dir, false);
    expect(existsSync(join(dir, 'notes.txt'))).toBe(true);
  });
});

describe('preflight', () => {
  it('should refuse a cut-off kernel image before anything is written', async () => {
    const image = join(base, 'bzImage');
    writeFileSync(image, bzImageFile('6.12.1 (me@box) #1 SMP').subarray(0, 100_000));
    const out = join(base, 'never');
    const e = await rejection(preflight(resolveConfig({ runner: 'vm', kernel: image, out }, ctx)));
    expect(e.code).toBe('KPTR_KERNEL_IMAGE_INVALID');
    expect(e.message).toContain('cut off');
    expect(existsSync(out)).toBe(false);
  });

  it('should refuse a kernel that is neither a known name, a cached release nor a file', async () => {
    const e = await rejection(preflight(resolveConfig({ runner: 'vm', kernels: `bogus-${process.pid}`, out: join(base, 'never') }, ctx)));
    expect(e.code).toBe('KPTR_KERNEL_IMAGE_MISSING');
  });

  it('should name an image given by path absolutely, so replay commands work from anywhere', async () => {
    const image = join(base, 'whole-bzImage');
    writeFileSync(image, bzImageFile('6.12.1 (me@box) #1 SMP'));
    const cfg = await preflight(resolveConfig({ runner: 'vm', kernel: image, out: join(base, 'vm-out') }, ctx));
    expect(cfg.kernels).toEqual([image]);
  });

  it('should name a cached kernel by its exact release, and refuse a cached image that was cut off', async () => {
    const cache = join(base, 'cache');
    const cachedImage = (abi: string, bytes: Uint8Array): void => {
      mkdirSync(join(cache, 'kptr-conform', 'kernels', abi), { recursive: true });
      writeFileSync(join(cache, 'kptr-conform', 'kernels', abi, 'vmlinuz'), bytes);
      const meta = { release: abi, version: abi.split('-')[0], package: `linux-image-${abi}`, suite: 'trixie' };
      writeFileSync(join(cache, 'kptr-conform', 'kernels', abi, 'kernel.json'), JSON.stringify(meta));
    };
    cachedImage('6.12.9-1-cloud-amd64', bzImageFile('6.12.9-1-cloud-amd64 (x) #1 SMP'));
    cachedImage('6.1.5-1-cloud-amd64', bzImageFile('6.1.5-1-cloud-amd64 (x) #1 SMP').subarray(0, 9000));
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = cache;
    try {
      const cfg = await preflight(resolveConfig({ runner: 'vm', kernels: '6.12', out: join(base, 'cached-out') }, ctx));
      expect(cfg.kernels).toEqual(['6.12.9-1-cloud-amd64']);
      const same = await rejection(preflight(resolveConfig({ runner: 'vm', kernels: '6.12,6.12.9-1-cloud-amd64', out: join(base, 'never') }, ctx)));
      expect(same.message).toBe('--kernels names the image 6.12.9-1-cloud-amd64 twice');
      const e = await rejection(preflight(resolveConfig({ runner: 'vm', kernels: '6.12,6.1', out: join(base, 'never') }, ctx)));
      expect(e.code).toBe('KPTR_KERNEL_IMAGE_INVALID');
      expect(existsSync(join(base, 'never'))).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });

  it('should check the corpus a campaign saves findings to', async () => {
    const e = await rejection(preflight(resolveConfig({ runner: 'emulator', saveFindings: true, corpus: '/proc/corpus', out: join(base, 'c-out') }, ctx)));
    expect(e.message).toMatch(/^--corpus \/proc\/corpus: cannot create it/);
  });
});
