import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadObject, Machine } from '../../../emulator/index.ts';
import { buildObject, type Codegen } from '../../../compile/buildObject.ts';
import { isRunStep, type Scenario } from '../../../types/index.ts';
import { percpuAllocArray as upstreamScenario } from '../../kernel/scenarios.ts';
import { needs } from '../../helpers/needs.ts';
import { percpuAllocArray } from '../compile/codegen/percpuAllocArray.fixture.ts';

/** Every schedule step of `s` on the emulator, from an object built `codegen`'s way; the globals at the end. */
async function emulate(s: Scenario, codegen: Codegen, nrCpus: number): Promise<Record<string, string | null>> {
  const object = await buildObject([s], codegen, await mkdtemp(join(tmpdir(), 'kptr-emu-paa-')), s.id);
  const m = Machine.load(loadObject(await readFile(object), { rodata: { nr_cpus: nrCpus } }), { nrCpus });
  for (const step of s.schedule) {
    if (!isRunStep(step)) continue;
    for (let i = 0; i < step.repeat; i++) expect(m.run(step.program, step.cpu)).toMatchObject({ outcome: 'exit', retval: 0 });
  }
  const globals = m.globals(s.globals.map((g) => g.name));
  expect(m.free()).toEqual([]);
  return globals;
}

/** upstream's programs 1-3 (store a new object, write c=1 d=2 into CPU 0's copy, read CPU 0's d and sum c) */
const cases: readonly Scenario[] = [
  percpuAllocArray,
  upstreamScenario('paa_tc', 'tc'),
  upstreamScenario('paa_sys', 'syscall'),
];

describe("upstream percpu_alloc_array on the emulator", () => {
  for (const codegen of ['direct', 'clang'] as const) {
    it(`should give cpu0_field_d=2 sum_field_c=1 with ${codegen === 'direct' ? "the direct writer's object (no clang, no root)" : "clang-16's object"}, on 2 and 4 CPUs`, async (ctx) => {
      if (codegen === 'clang') await needs(ctx, 'clang');
      for (const s of cases) {
        for (const nrCpus of [2, 4]) {
          const g = await emulate(s, codegen, nrCpus);
          const [d, c] = s.globals.map((x) => g[x.name]);
          expect({ scenario: s.id, cpu0_field_d: d, sum_field_c: c }).toEqual({ scenario: s.id, cpu0_field_d: '2', sum_field_c: '1' });
        }
      }
    });
  }
});
