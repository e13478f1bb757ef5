/**
 * `npm run bench`: end-to-end throughput of the pipeline on one runner and where the time goes.
 * Prints figures; asserts nothing (speed targets live here, never in tests).
 *   KPTR_BENCH_CASES (default 2000: a campaign's steady state; 400 cases measure mostly JIT warm-up, ~480 cases/s), KPTR_BENCH_SEED (default 1), KPTR_BENCH_BATCH (scenarios per object; runner default)
 *   KPTR_BENCH_RUNNER=host|vm|emulator (default host; emulator: no root needed — the pipeline end to end with the verifier
 *   model, then the machine's own load + run figures), KPTR_BENCH_KERNEL (vm: default 6.12; emulator: a profile, default 6.18.44),
 *   KPTR_BENCH_PROG_TYPES (default: tc,syscall on the host, all four in a vm),
 *   KPTR_BENCH_CODEGEN=direct|clang (default direct, as campaigns; clang is timed apart either way unless KPTR_BENCH_CLANG=0),
 *   KPTR_BENCH_THREADS (emulator: worker threads of the runner, default 0; a campaign takes cli/session.ts emulatorThreads())
 *   KPTR_BENCH_PIPELINES (emulator: whole pipelines side by side for the last end-to-end figure, each shard k/N of the
 *   cases in its own pool thread; default availableParallelism())
 *   KPTR_BENCH_CAMPAIGN=0 leaves out the last figure: `kptr-conform run` itself on the same runner, cases and seed (direct
 *   codegen only), whose next cases are prepared while the runner works, where the split above runs stage after stage
 *   KPTR_BENCH_VM_KERNELS=all|6.1,6.12,... (off by default: minutes of boots under TCG): then a short vm campaign on each
 *   (issue 11: the 4-kernel figure), KPTR_BENCH_VM_CASES cases each (default 200)
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { prefixScenario } from '../generators/prefixScenario.ts';
import { predict } from '../oracle/predict.ts';
import { compare } from '../judge/compare.ts';
import { generateValues } from '../campaign/shrink.ts';
import { CODEGENS, type Codegen } from '../compile/buildObject.ts';
import { compileBpf } from '../compile/codegen/compileBpf.ts';
import { writeObject } from '../compile/object/writeObject.ts';
import { emitBatch } from '../compile/codegen/emit.ts';
import { packBatches } from '../compile/codegen/packBatches.ts';
import { createHostRunner, DEFAULT_MAX_PER_BATCH } from '../runners/host/index.ts';
import { createVmRunner, type VmBootStats } from '../runners/vm/index.ts';
import { createEmulatorRunner, DEFAULT_EMULATOR_KERNEL } from '../runners/emulator/index.ts';
import type { ProfileName } from '../emulator/verifier/profile.ts';
import type { ProgType } from '../types/index.ts';
import { loadSpec } from '../specs/load.ts';
import { campaignArbitrary, planFor } from '../cli/pipeline.ts';
import { printEmulatorFigures, rates, settledRounds, timedAsync } from './emulatorThroughput.ts';
import { printVmKernelFigures, VM_BENCH_KERNELS } from './vmKernels.ts';
import { campaignFigure } from './campaignFigure.ts';
import { pipelinePass, printPipelinesFigure, type Pipeline } from './pipelines.ts';

const cases = Number(process.env.KPTR_BENCH_CASES ?? 2000);
const seed = Number(process.env.KPTR_BENCH_SEED ?? 1);
const work = mkdtempSync(join(tmpdir(), 'kptr-bench-'));

/**
 * CPU time of this process's waited-for children (the harness runs), ms, since `from`: /proc/self/stat cutime and
 * cstime, in USER_HZ (100) ticks. null where there is no /proc.
 */
function childrenCpu(from: { user: number; system: number } | null = null): { user: number; system: number } | null {
  let stat: string;
  try {
    stat = readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return null;
  }
  // fields after the command name (which may hold spaces): state is field 3, cutime 16, cstime 17
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const now = { user: Number(f[13]) * 10, system: Number(f[14]) * 10 };
  return from === null ? now : { user: now.user - from.user, system: now.system - from.system };
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const row = (name: string, v: number, total: number): string =>
  `${name.padEnd(34)} ${v.toFixed(1).padStart(9)} ms  ${((100 * v) / total).toFixed(1).padStart(5)} %`;

const spec = loadSpec();
const maxPerBatch = Number(process.env.KPTR_BENCH_BATCH ?? DEFAULT_MAX_PER_BATCH);
const onVm = process.env.KPTR_BENCH_RUNNER === 'vm';
const onEmulator = process.env.KPTR_BENCH_RUNNER === 'emulator';
const codegen = (process.env.KPTR_BENCH_CODEGEN ?? 'direct') as Codegen;
if (!CODEGENS.includes(codegen)) throw new Error(`KPTR_BENCH_CODEGEN must be one of ${CODEGENS.join(', ')}`);
const boots: VmBootStats[] = [];
const emulatorThreads = Number(process.env.KPTR_BENCH_THREADS ?? 0);
const runner = onVm
  ? createVmRunner({ kernel: process.env.KPTR_BENCH_KERNEL ?? '6.12', workDir: join(work, 'vm'), maxPerBatch, codegen, onBoot: (b) => boots.push(b) })
  : onEmulator
    ? createEmulatorRunner({ kernel: (process.env.KPTR_BENCH_KERNEL ?? DEFAULT_EMULATOR_KERNEL) as ProfileName, workDir: join(work, 'emu'), maxPerBatch, codegen, threads: emulatorThreads })
    : createHostRunner({ workDir: join(work, 'host'), maxPerBatch, codegen });
const caps = await runner.probe();
if (!caps.kernel || caps.problems.length > 0) throw new Error(`${runner.name} runner unavailable: ${caps.problems.join('; ')}`);
const kernel = caps.kernel;
const wanted = (process.env.KPTR_BENCH_PROG_TYPES ?? (onVm || onEmulator ? 'tc,syscall,fentry,fentry.s' : 'tc,syscall')).split(',') as ProgType[];
const progTypes = wanted.filter((t) => caps.progTypes[t].ok);

const tAll = process.hrtime.bigint();
const cpuAll = process.cpuUsage();
let t = process.hrtime.bigint();
const arb = campaignArbitrary(spec, runner.name, { ...kernel, divergences: [] }, progTypes, 'mixed');
const scenarios = [...generateValues(arb, seed, cases)].map((v, i) => prefixScenario(v.value_, `b${seed}_${i}`));
const genMs = ms(t);

t = process.hrtime.bigint();
const predictions = scenarios.map((s) => predict(s, { version: kernel.version, nrCpus: kernel.nrCpus, divergences: [] }, spec));
const predictMs = ms(t);

t = process.hrtime.bigint();
const children0 = childrenCpu();
const runCases = scenarios.map((s, i) => ({ scenario: s, plan: planFor(predictions[i]!, true) }));
const observations = await runner.run(runCases);
const runnerMs = ms(t);
const children = childrenCpu(children0);

t = process.hrtime.bigint();
const results = observations.map((o, i) => compare(predictions[i]!, o));
const compareMs = ms(t);
const totalMs = ms(tAll);
const cpuUsed = process.cpuUsage(cpuAll);
const totalCpuMs = (cpuUsed.user + cpuUsed.system) / 1000;

// The runner's own split, measured separately on the same scenarios: each codegen, then the kernel's share from the harness.
t = process.hrtime.bigint();
const batches = packBatches(scenarios, maxPerBatch);
batches.forEach((b) => writeObject(b));
const directMs = ms(t);
// clang over every batch is ~20 s of CPU for 2,000 cases: KPTR_BENCH_CLANG=0 leaves it (and the C codegen) out
const withClang = codegen === 'clang' || process.env.KPTR_BENCH_CLANG !== '0';
t = process.hrtime.bigint();
const emitted = withClang ? batches.map((b) => emitBatch(b)) : [];
const emitMs = ms(t);
t = process.hrtime.bigint();
await Promise.all(emitted.map((e, i) => compileBpf(e.source, join(work, 'cc'), `bench${i}`)));
const compileMs = ms(t);
const loadMs = observations.flatMap((o) => o.programs).reduce((a, p) => a + p.loadNs, 0) / 1e6;
const runMs = observations.flatMap((o) => o.runs).reduce((a, r) => a + r.runNs, 0) / 1e6;

const count = (s: string): number => results.filter((r) => r.status === s).length;
const programs = observations.reduce((a, o) => a + o.programs.length, 0);
process.stdout.write(`kptr-conform bench: ${cases} generated cases (${programs} programs, ${batches.length} batches, ${progTypes.join(',')}) on ${runner.name} ${kernel.release}, ${kernel.nrCpus} CPUs, codegen ${codegen}${onEmulator ? `, ${emulatorThreads} runner threads` : ''}\n`);
for (const b of boots) process.stdout.write(`boot ${b.boot} (${b.accel}): ${b.cases} cases, ${b.decided} decided, /init after ${b.bootMs ?? '?'} ms, ${b.wallMs} ms in all\n`);
process.stdout.write(`results: pass ${count('pass')}, fail ${count('fail')}, divergence ${count('divergence')}, skip ${count('skip')}, error ${count('error')}\n`);
// a throughput figure over failing cases is suspect: name them (replay with `kptr-conform run` for the full report)
for (const r of results.filter((x) => x.status === 'fail' || x.status === 'error')) {
  const m = r.mismatches[0];
  process.stdout.write(`  ${r.status} ${r.scenarioId}: ${m ? `${m.kind} ${m.program ?? ''} expected ${m.expected} observed ${m.observed}`.slice(0, 300) : ''}\n`);
}
process.stdout.write('\n');
process.stdout.write(`${row('generate (fast-check)', genMs, totalMs)}\n`);
process.stdout.write(`${row('predict (oracle)', predictMs, totalMs)}\n`);
process.stdout.write(`${row(`${runner.name} runner (objects+harness)`, runnerMs, totalMs)}\n`);
process.stdout.write(`${row(`  ${codegen === 'direct' ? 'of which' : 'instead'} object writer (apart)`, directMs, totalMs)}\n`);
if (withClang) {
  process.stdout.write(`${row(`  ${codegen === 'clang' ? 'of which' : 'instead'} C codegen (apart)`, emitMs, totalMs)}\n`);
  process.stdout.write(`${row(`  ${codegen === 'clang' ? 'of which' : 'instead'} clang-16 (apart)`, compileMs, totalMs)}\n`);
}
process.stdout.write(`${row('  of which kernel load/verify', loadMs, totalMs)}\n`);
process.stdout.write(`${row('  of which kernel test_run', runMs, totalMs)}\n`);
process.stdout.write(`${row('compare', compareMs, totalMs)}\n`);
process.stdout.write(`${row('total', totalMs, totalMs)}\n\n`);
process.stdout.write(`end-to-end: ${(cases / (totalMs / 1000)).toFixed(0)} cases/s wall, ${(cases / (totalCpuMs / 1000)).toFixed(0)} cases per CPU-second (one pass, JIT warm-up included; the machine is shared, so wall figures vary)\n`);
process.stdout.write(`kernel ceiling (verify+run only): ${(cases / ((loadMs + runMs) / 1000)).toFixed(0)} cases/s\n`);
process.stdout.write(`oracle alone: ${(cases / (predictMs / 1000)).toFixed(0)} predictions/s\n`);
if (children !== null && children.user + children.system > 0) {
  // the harness processes' whole cost: besides verifying and running, the kernel creates and frees every object's BTF
  // and maps (a kptr field of a program-local type is looked up by name in vmlinux and module BTF on each map_create)
  const perCase = (v: number): string => (v / cases).toFixed(2);
  process.stdout.write(`harness processes: ${perCase(children.system)} ms kernel + ${perCase(children.user)} ms user per case; `
    + `their kernel time alone allows ${(cases / (children.system / 1000)).toFixed(0)} cases per CPU-second\n`);
}
if (onEmulator && codegen === 'direct') {
  // the runner's steady state, as in a long campaign: the same cases again, after one more warm-up pass (clang objects
  // would time clang)
  await runner.run(runCases);
  const passes: number[] = [];
  for (let i = 0; i < 3; i++) passes.push((await timedAsync(() => runner.run(runCases))).cpu);
  process.stdout.write(`emulator runner alone, warm (objects, verifier model, machine): ${rates(cases, passes)} cases per CPU-second (all threads)\n`);
  // the whole pipeline again, warm: generation, prediction, the runner, comparison, each round on the seed's next
  // cases, until settled (a long campaign's steady state: the JIT takes ~10 rounds of 2,000 cases; the first figure
  // above includes its warm-up)
  const pipeline: Pipeline = { runner, arb, spec, seed, cases, kernel: { version: kernel.version, nrCpus: kernel.nrCpus, divergences: [] } };
  let pass = 0;
  const whole = await settledRounds(async () => [{ thread: 0, counts: await pipelinePass(pipeline, null, ++pass) }], 1);
  process.stdout.write(`end-to-end, warm: ${rates(cases, whole.cpuMs)} cases per CPU-second (all threads); ${rates(cases, whole.wallMs)} cases/s wall (load average ${loadavg()[0]?.toFixed(1)})\n`);
  // the same passes as N `run --shard k/N` campaigns run them side by side: what the cores give together
  const pipelines = Number(process.env.KPTR_BENCH_PIPELINES ?? availableParallelism());
  await printPipelinesFigure({ profile: (process.env.KPTR_BENCH_KERNEL ?? DEFAULT_EMULATOR_KERNEL) as ProfileName, progTypes, seed, cases, maxPerBatch, workDir: work }, pipelines);
}
await printEmulatorFigures(scenarios, kernel.nrCpus, maxPerBatch, availableParallelism());
if (codegen === 'direct' && process.env.KPTR_BENCH_CAMPAIGN !== '0') {
  const f = await campaignFigure(runner.name, onVm || onEmulator ? (process.env.KPTR_BENCH_KERNEL ?? (onVm ? '6.12' : DEFAULT_EMULATOR_KERNEL)) : null, cases, seed, work);
  process.stdout.write(`campaign (run --runs ${cases} --no-shrink, no corpus, file reports): ${f.casesPerSecond.toFixed(0)} cases/s (its summary), `
    + `${(f.cases / (f.wallMs / 1000)).toFixed(0)} cases/s wall with session opening, ${(f.cases / (f.cpuMs / 1000)).toFixed(0)} cases per CPU-second of this process (load average ${loadavg()[0]?.toFixed(1)})\n`);
}
const vmKernels = process.env.KPTR_BENCH_VM_KERNELS;
if (vmKernels) {
  await printVmKernelFigures(vmKernels === 'all' ? VM_BENCH_KERNELS : vmKernels.split(','), Number(process.env.KPTR_BENCH_VM_CASES ?? 200), seed, spec, work);
}
