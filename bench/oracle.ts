/**
 * `npx tsx bench/oracle.ts`: oracle throughput (predictions per second). Prints figures; asserts nothing.
 * Scenarios: every built-in selftest case, varied over the four program types, three kernels and 1/2/4 CPUs,
 * repeated until KPTR_BENCH_PREDICTIONS (default 5000) predictions have run.
 */
import { predict } from '../oracle/predict.ts';
import { loadSelftests, loadSpec } from '../specs/load.ts';
import type { ProgType, Scenario } from '../types/index.ts';

const target = Number(process.env.KPTR_BENCH_PREDICTIONS ?? 5000);
const spec = loadSpec();
const base = loadSelftests(undefined, spec).map((c) => c.scenario);
const modes: readonly ProgType[] = ['tc', 'syscall', 'fentry', 'fentry.s'];
const kernels = ['6.12.117', '6.18.44', '7.3.4'];

const variants: { scenario: Scenario; version: string; nrCpus: number }[] = [];
for (const s of base) {
  for (const mode of modes) {
    const scenario = { ...s, id: `${s.id}_${mode.replace('.', '_')}`, programs: s.programs.map((p) => ({ ...p, progType: mode })) };
    for (const version of kernels) for (const nrCpus of [1, 2, 4]) variants.push({ scenario, version, nrCpus });
  }
}

let rejected = 0;
let steps = 0;
const t0 = process.hrtime.bigint();
let n = 0;
while (n < target) {
  const v = variants[n % variants.length] as (typeof variants)[number];
  const p = predict(v.scenario, { version: v.version, nrCpus: v.nrCpus, divergences: [] }, spec);
  rejected += p.programs.filter((x) => x.verdict === 'rejected').length;
  steps += p.steps.length;
  n++;
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`${n} predictions over ${variants.length} distinct (scenario, kernel, nr_cpus) variants of ${base.length} cases`);
console.log(`${(n / secs).toFixed(0)} predictions/s  (${((secs / n) * 1e6).toFixed(1)} µs each; ${rejected} programs rejected, ${steps} run steps predicted)`);
