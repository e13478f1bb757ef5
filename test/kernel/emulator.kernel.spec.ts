import { readdir, readFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkScenarios } from '../../cli/pipeline.ts';
import { predict } from '../../oracle/predict.ts';
import { loadObject, Machine } from '../../emulator/index.ts';
import { prefixScenario } from '../../generators/prefixScenario.ts';
import { scenario } from '../../generators/scenario.ts';
import { generateValues } from '../../campaign/shrink.ts';
import type { Codegen } from '../../compile/buildObject.ts';
import { machineMapOp } from '../../runners/emulator/index.ts';
import { createHostRunner } from '../../runners/host/index.ts';
import type { MapOpKind } from '../../types/index.ts';
import { loadSpec } from '../../specs/load.ts';
import { needs } from '../helpers/needs.ts';
import { percpuAllocArray } from './scenarios.ts';

const SEED = 1212;
const CASES = Number(process.env.KPTR_EMULATOR_CASES ?? 2000);
/** a host campaign of CASES scenarios: past the kernel project's 300 s when the shared machine is loaded (load average 10-30) */
const CAMPAIGN_TIMEOUT_MS = 900_000;

/** One `run` event of the harness (ARCHITECTURE.md, "The harness protocol"), reduced to what both sides report. */
interface RunFact {
  readonly line: string;
  readonly retval: number | null;
  readonly err: string | null;
  readonly globals: Record<string, string | null>;
}

interface BatchComparison {
  readonly object: string;
  compared: number;
  readonly programs: Set<string>;
  readonly disagreements: { readonly line: string; readonly kernel: RunFact | null; readonly emulator: RunFact | null }[];
}

/**
 * Replays one harness run (object, plan, JSON lines written by the host runner) on the emulator: the same object
 * bytes, the same program order and CPUs; only runs of programs the kernel accepted and executed are compared.
 */
async function replay(dir: string, name: string, nrCpus: number): Promise<BatchComparison | null> {
  const text = await readFile(join(dir, `${name}.jsonl`), 'utf8').catch(() => null);
  if (text === null) return null;
  const events = text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  if (events.some((e) => e.ev === 'object')) return null; // nothing ran; the runner retried its scenarios alone
  const accepted = new Set(events.filter((e) => e.ev === 'load' && e.verdict === 'accepted').map((e) => e.prog as string));
  const kernelRuns = events.filter((e) => e.ev === 'run');
  const kernelMapOps = events.filter((e) => e.ev === 'mapop');
  const plan = (await readFile(join(dir, `${name}.plan`), 'utf8')).split('\n').filter((l) => l !== '');
  const globalsOf = new Map(plan.filter((l) => l.startsWith('globals ')).map((l) => {
    const [, id, ...names] = l.split(' ');
    return [id as string, names];
  }));
  const object = join(dir, `${name}.bpf.o`);
  const spec = loadObject(await readFile(object), { rodata: { nr_cpus: nrCpus } });
  const machine = Machine.load(spec, { nrCpus });
  const out: BatchComparison = { object, compared: 0, programs: new Set(), disagreements: [] };
  let k = 0;
  let m = 0;
  for (const line of plan.filter((l) => l.startsWith('run ') || l.startsWith('mapop '))) {
    if (line.startsWith('mapop ')) {
      // a userspace map operation: the same errno, value words, and a batch's count and keys
      const [, , , map, op, key, flags, sum] = line.split(' ') as [string, string, string, string, MapOpKind, string, string, string];
      const emulated = machineMapOp(machine, spec, map, op, key, Number(flags), BigInt.asIntN(64, BigInt(sum)));
      const km = kernelMapOps[m++];
      out.compared++;
      out.programs.add(`mapop ${op}`);
      if (!km || JSON.stringify([km.err, km.value, km.count, km.keys]) !== JSON.stringify([emulated.err, emulated.value, emulated.count, emulated.keys])) {
        out.disagreements.push({ line, kernel: km ? { line, retval: null, err: km.err as string | null, globals: { value: JSON.stringify(km.value) } } : null, emulator: { line, retval: null, err: emulated.err, globals: { value: JSON.stringify(emulated.value) } } });
      }
      continue;
    }
    const [, id, prog, cpu, repeat] = line.split(' ') as [string, string, string, string, string];
    if (!accepted.has(prog)) continue; // the harness skips it (the kernel rejected it)
    for (let i = 0; i < Number(repeat); i++) {
      const kr = kernelRuns[k++];
      const r = machine.run(prog, Number(cpu));
      const emulated: RunFact = r.outcome === 'exit'
        ? { line, retval: r.retval, err: null, globals: machine.globals(globalsOf.get(id) ?? []) }
        : { line: `${line}: ${r.oops.why} at insn ${r.oops.insn}`, retval: null, err: 'FAULT', globals: {} };
      const kernel: RunFact | null = kr && kr.prog === prog ? { line, retval: kr.retval as number | null, err: kr.err as string | null, globals: kr.globals as Record<string, string | null> } : null;
      out.compared++;
      out.programs.add(prog);
      if (!kernel || JSON.stringify([kernel.retval, kernel.err, kernel.globals]) !== JSON.stringify([emulated.retval, emulated.err, emulated.globals])) {
        out.disagreements.push({ line, kernel, emulator: emulated });
      }
    }
  }
  expect(k, `${name}: every kernel run event is matched by an emulated run`).toBe(kernelRuns.length);
  expect(m, `${name}: every kernel mapop event is matched by an emulated one`).toBe(kernelMapOps.length);
  machine.free();
  return out;
}

async function campaign(codegen: Codegen, nrCpus: number) {
  const workDir = await mkdtemp(join(tmpdir(), `kptr-emu-${codegen}-`));
  const runner = createHostRunner({ workDir, codegen, keepBatches: true });
  const caps = await runner.probe();
  const arb = scenario({ mode: 'mixed', progTypes: ['tc', 'syscall'], nrCpus });
  const scenarios = [
    percpuAllocArray(`emu_${codegen}_tc`, 'tc'),
    percpuAllocArray(`emu_${codegen}_sys`, 'syscall'),
    ...[...generateValues(arb, SEED, CASES)].map((v, i) => prefixScenario(v.value_, `em${i}`)),
  ];
  // no divergence probes: the oracle's expectations only pick what the host may execute; emulator and kernel are compared
  await checkScenarios({ runner, kernel: { ...caps.kernel!, divergences: [] }, spec: loadSpec(), scenarios });
  const names = (await readdir(workDir)).filter((f) => f.endsWith('.plan')).map((f) => f.slice(0, -'.plan'.length));
  const batches = (await Promise.all(names.map((n) => replay(workDir, n, nrCpus)))).filter((b) => b !== null);
  // globals the oracle predicts read a fresh per-CPU object's zeroes (`<scenario> <program> <global>`): the host hands
  // out freed per-CPU memory uncleared (divergence percpu_obj_new_uncleared), with bytes other processes' objects left
  const zeroFilled = new Set(scenarios.flatMap((s) => predict(s, { ...caps.kernel!, divergences: [] }, loadSpec()).steps
    .flatMap((st) => st.zeroFilled.map((g) => `${s.id} ${st.program} ${g}`))));
  return { scenarios: scenarios.length, batches, zeroFilled };
}

describe('emulator against the host kernel (same objects, same schedule)', () => {
  for (const codegen of ['direct', 'clang'] as const) {
    it(`should give the kernel's return values and globals for every run the kernel executed (${codegen} objects, ${CASES} generated scenarios)`, async (ctx) => {
      await needs(ctx, 'kernel');
      if (codegen === 'clang') await needs(ctx, 'clang');
      const nrCpus = (await createHostRunner({ workDir: tmpdir() }).probe()).kernel!.nrCpus;
      const { scenarios, batches, zeroFilled } = await campaign(codegen, nrCpus);
      const compared = batches.reduce((a, b) => a + b.compared, 0);
      const programs = batches.reduce((a, b) => a + b.programs.size, 0);
      // a run differing only in globals the emulator reads as a fresh object's zeroes and the oracle predicts zero-filled
      const uncleared = (d: BatchComparison['disagreements'][number]): boolean => {
        const [, id, prog] = d.line.split(' ');
        if (d.kernel === null || d.emulator === null || d.kernel.retval !== d.emulator.retval || d.kernel.err !== d.emulator.err) return false;
        const differing = Object.keys(d.kernel.globals).filter((g) => d.kernel!.globals[g] !== d.emulator!.globals[g]);
        return differing.every((g) => d.emulator!.globals[g] === '0' && zeroFilled.has(`${id} ${prog} ${g}`));
      };
      const disagreements = batches.flatMap((b) => b.disagreements.filter((d) => !uncleared(d)).map((d) => ({ object: b.object, ...d })));
      process.stdout.write(`emulator vs host (${codegen}): ${scenarios} scenarios, ${batches.length} objects, ${programs} programs executed, ${compared} runs compared, ${disagreements.length} disagreements\n`);
      expect(disagreements.slice(0, 5)).toEqual([]);
      expect(compared).toBeGreaterThan(500);
    }, CAMPAIGN_TIMEOUT_MS);
  }
});
