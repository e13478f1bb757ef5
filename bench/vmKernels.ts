import { join } from 'node:path';
import { loadavg } from 'node:os';
import { prefixScenario } from '../generators/prefixScenario.ts';
import { predict } from '../oracle/predict.ts';
import { compare } from '../judge/compare.ts';
import { generateValues } from '../campaign/shrink.ts';
import { createVmRunner, type VmBootStats } from '../runners/vm/index.ts';
import type { ProgType, Spec } from '../types/index.ts';
import { campaignArbitrary, planFor } from '../cli/pipeline.ts';

/** the kernels of issue 11's figure: every cached release the vm runner knows by name */
export const VM_BENCH_KERNELS = ['6.1', '6.12', '6.18', '7.3'] as const;

export interface VmKernelFigure {
  readonly kernel: string;
  readonly release: string;
  readonly cases: number;
  /** generation to comparison, the campaign's boots included (the probe is timed apart) */
  readonly wallMs: number;
  readonly probeMs: number;
  readonly boots: readonly VmBootStats[];
  readonly failing: number;
}

/**
 * A short campaign on one vm kernel, as `run --runner vm --kernel K` makes it: the same seed's cases (all four
 * program types), predicted, run in the guest on direct objects and compared. Boots are part of its cost: a short
 * campaign on TCG is mostly boot, which is what a user waiting for one sees.
 */
export async function vmKernelFigure(kernel: string, cases: number, seed: number, spec: Spec, workDir: string): Promise<VmKernelFigure> {
  const boots: VmBootStats[] = [];
  const runner = createVmRunner({ kernel, workDir: join(workDir, `vm-${kernel}`), codegen: 'direct', onBoot: (b) => boots.push(b) });
  const t0 = performance.now();
  const caps = await runner.probe();
  if (!caps.kernel || caps.problems.length > 0) throw new Error(`vm runner on ${kernel} unavailable: ${caps.problems.join('; ')}`);
  const probeMs = performance.now() - t0;
  const k = caps.kernel;
  const progTypes = (['tc', 'syscall', 'fentry', 'fentry.s'] as ProgType[]).filter((t) => caps.progTypes[t].ok);
  const t1 = performance.now();
  const arb = campaignArbitrary(spec, runner.name, { ...k, divergences: [] }, progTypes, 'mixed');
  const scenarios = [...generateValues(arb, seed, cases)].map((v, i) => prefixScenario(v.value_, `v${seed}_${i}`));
  const predictions = scenarios.map((s) => predict(s, { version: k.version, nrCpus: k.nrCpus, divergences: [] }, spec));
  const observations = await runner.run(scenarios.map((s, i) => ({ scenario: s, plan: planFor(predictions[i]!, true) })));
  const results = observations.map((o, i) => compare(predictions[i]!, o));
  return {
    kernel, release: k.release, cases, wallMs: performance.now() - t1, probeMs, boots,
    failing: results.filter((r) => r.status === 'fail' || r.status === 'error').length,
  };
}

/** `KPTR_BENCH_VM_KERNELS`: the figure per kernel, one after the other (each uses every lane the machine gives it). */
export async function printVmKernelFigures(kernels: readonly string[], cases: number, seed: number, spec: Spec, workDir: string): Promise<void> {
  process.stdout.write(`\nvm runner, ${cases} mixed cases per kernel (all four program types, direct objects, seed ${seed}):\n`);
  for (const kernel of kernels) {
    const f = await vmKernelFigure(kernel, cases, seed, spec, workDir);
    const boots = f.boots.map((b) => `${b.accel} /init ${b.bootMs ?? '?'} ms`).join(', ');
    process.stdout.write(`  ${kernel.padEnd(5)} ${f.release.padEnd(28)} ${(f.cases / (f.wallMs / 1000)).toFixed(1).padStart(6)} cases/s `
      + `(${(f.wallMs / 1000).toFixed(1)} s, ${f.boots.length} boot(s): ${boots}; probe ${(f.probeMs / 1000).toFixed(1)} s apart; ${f.failing} failing; load average ${loadavg()[0]?.toFixed(1)})\n`);
  }
}
