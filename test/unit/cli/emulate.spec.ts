import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emulate } from '../../../cli/commands/emulate.ts';
import { writeObject } from '../../../compile/object/writeObject.ts';
import { kptrConform } from '../../helpers/cli.ts';
import { percpuAllocArray } from '../compile/codegen/percpuAllocArray.fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'kptr-emulate-'));
const object = join(dir, 'paa.bpf.o');
writeFileSync(object, writeObject([percpuAllocArray]));

async function lines(opts: Parameters<typeof emulate>[1]): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const code = await emulate(object, opts, (l) => out.push(l));
  return { code, out };
}

describe('kptr-conform emulate', () => {
  it("should run upstream's sequence in userspace and print each run's return value and the globals after it", async () => {
    const r = await lines({ run: ['test_array_map_1', 'test_array_map_2@1', 'test_array_map_3@3'], nrCpus: '4' });
    expect(r.code).toBe(0);
    expect(r.out.slice(1)).toEqual([
      'test_array_map_1@0: retval 0  nr_cpus=4 cpu0_field_d=0 sum_field_c=0',
      'test_array_map_2@1: retval 0  nr_cpus=4 cpu0_field_d=0 sum_field_c=0',
      'test_array_map_3@3: retval 0  nr_cpus=4 cpu0_field_d=2 sum_field_c=1',
      '3 runs, 0 faults; 0 objects leaked after the maps were freed',
    ]);
  });

  it('should refuse bad arguments as usage errors', async () => {
    await expect(lines({ run: ['test_array_map_1@2'] })).rejects.toMatchObject({ code: 'KPTR_USAGE', message: '--run test_array_map_1@2: cpu 2 does not exist (--nr-cpus 2)' });
    await expect(lines({ nrCpus: '0' })).rejects.toMatchObject({ code: 'KPTR_USAGE' });
    await expect(lines({ freedMemory: 'dirty' })).rejects.toMatchObject({ code: 'KPTR_USAGE' });
  });

  it('should print one error line and exit 2 for an unknown program or a file that is not a BPF object', async () => {
    const unknown = await kptrConform(['emulate', object, '--run', 'nope']);
    expect([unknown.exitCode, unknown.stderr.trim()]).toEqual([2, `kptr-conform: KPTR_USAGE: no program nope in ${object} — programs: test_array_map_1, test_array_map_2, test_array_map_3, test_array_map_4`]);
    const bad = join(dir, 'bad.o');
    writeFileSync(bad, 'not elf');
    const malformed = await kptrConform(['emulate', bad]);
    expect(malformed.exitCode).toBe(2);
    expect(malformed.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^kptr-conform: KPTR_OBJECT_MALFORMED: ELF header\+0: /)]);
  });
});
