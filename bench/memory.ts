/**
 * `npm run bench:memory`: peak memory (max RSS, from GNU time) of whole host campaigns of growing length, to show it
 * stays flat in --runs (generation, running and writing proceed in chunks; the summary keeps counts). Prints figures;
 * asserts nothing (targets live in benches, never in tests).
 *   KPTR_BENCH_MEMORY_RUNS (default 2000,20000,100000; 1000000 takes ~25 min of CPU), KPTR_BENCH_SEED (default 1)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const root = fileURLToPath(new URL('..', import.meta.url));
const sizes = (process.env.KPTR_BENCH_MEMORY_RUNS ?? '2000,20000,100000').split(',').map(Number);
const seed = process.env.KPTR_BENCH_SEED ?? '1';

console.log(`${'runs'.padStart(9)} ${'max RSS'.padStart(10)} ${'wall'.padStart(8)} ${'cases/s'.padStart(8)}  exit`);
for (const runs of sizes) {
  const out = mkdtempSync(join(tmpdir(), 'kptr-bench-memory-'));
  const r = await execa('/usr/bin/time', ['-f', 'kptr-bench %M %e', process.execPath, join(root, 'bin/kptr-conform.js'),
    'run', '--runner', 'host', '--runs', String(runs), '--seed', seed, '--no-shrink', '--quiet', '--out', out], { reject: false, cwd: root });
  const m = /kptr-bench (\d+) ([\d.]+)\s*$/.exec(r.stderr);
  rmSync(out, { recursive: true, force: true });
  if (!m) throw new Error(`no figures from GNU time (is /usr/bin/time installed?): ${r.stderr.slice(-500)}`);
  const [rssKb, wallS] = [Number(m[1]), Number(m[2])];
  console.log(`${String(runs).padStart(9)} ${`${(rssKb / 1024).toFixed(0)} MiB`.padStart(10)} ${`${wallS.toFixed(0)} s`.padStart(8)} ${(runs / wallS).toFixed(0).padStart(8)}  ${r.exitCode}`);
}
