import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadObject, Machine } from '../../../emulator/index.ts';
import { buildObject, type Codegen } from '../../../runners/buildObject.ts';
import { isRunStep } from '../../../types/index.ts';
import { needs } from '../../helpers/needs.ts';
import { EMPTY, HELD, storageCounter } from '../../helpers/localStorageScenarios.ts';

describe('task storage on the emulator', () => {
  for (const codegen of ['direct', 'clang'] as const satisfies readonly Codegen[]) {
    it(`should create the owner's element at lookup and free it with its object at owner_exit (${codegen} object)`, async (ctx) => {
      if (codegen === 'clang') await needs(ctx, 'clang');
      const s = storageCounter('els', 'task_storage', 'syscall');
      const object = await buildObject([s], codegen, await mkdtemp(join(tmpdir(), 'kptr-emu-ls-')), s.id);
      const spec = loadObject(await readFile(object), { rodata: { nr_cpus: 2 } });
      expect(spec.maps.filter((m) => m.internal === null).map((m) => [m.name, m.type, m.maxEntries, m.flags])).toEqual([['els_m', 'task_storage', 0, 1]]);
      const m = Machine.load(spec, { nrCpus: 2 });
      const seen: number[] = [];
      for (const step of s.schedule) {
        if ('owner_exit' in step) {
          expect(m.ownerExit()).toEqual([]);
          continue;
        }
        if (!isRunStep(step)) continue;
        const r = m.run(step.program, step.cpu);
        seen.push(r.outcome === 'exit' ? r.retval : -1);
      }
      expect(seen).toEqual([EMPTY, HELD, EMPTY]);
      expect(m.free()).toEqual([]);
    });
  }

});
