import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { predict } from '../../../oracle/predict.ts';
import { emitReproCheck } from '../../../reports/emitReproCheck.ts';
import { loadScenarioFile, loadSpec } from '../../../specs/load.ts';

const puc = loadScenarioFile(fileURLToPath(new URL('../../../specs/regressions/percpu_obj_new_uncleared.yaml', import.meta.url)));

describe('emitReproCheck with grace-period steps', () => {
  it('should wait for each grace period before the run that follows it, and build against the static libbpf', async () => {
    const source = emitReproCheck(puc, predict(puc, { version: '6.18.44', nrCpus: 2, divergences: [] }, loadSpec()), 'puc');
    // prog, step, iteration, cpu, has_retval, retval, grace periods before it
    expect(source).toContain([
      '\t{ "puc_dirty", 0, 0, 0, 1, 0, 0 },',
      '\t{ "puc_dirty", 2, 0, 0, 1, 0, 1 },',
      '\t{ "puc_fresh", 4, 0, 0, 1, 0, 1 },',
      '\t{ "puc_fresh", 4, 1, 0, 1, 0, 0 },',
    ].join('\n'));
    expect(source).toContain('syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0)');
    const dir = await mkdtemp(join(tmpdir(), 'kptr-check-'));
    await writeFile(join(dir, 'repro_check.c'), source);
    const r = await execa('gcc', ['-O2', '-Wall', 'repro_check.c', '-o', 'repro_check', '-static', '-lbpf', '-lelf', '-lz'], { cwd: dir });
    expect(r.stderr.split('\n').filter((l) => l !== '' && !l.includes('statically linked applications'))).toEqual([]);
  });
});
