/**
 * Generation speed of the scenario arbitraries: scenarios per second and average size, per mode.
 * Run: npx tsx bench/generators.ts [count]
 */
import fc from 'fast-check';
import { scenario } from '../generators/scenario.ts';
import type { Op, Scenario } from '../types/index.ts';

const count = Number(process.argv[2] ?? 5000);
const opCount = (ops: readonly Op[]): number => ops.reduce((n, o) => n + 1 + (o.op === 'if' ? opCount(o.then) : 0), 0);
const size = (s: Scenario): number => s.programs.reduce((n, p) => n + opCount(p.ops), 0);

for (const [label, arb] of [
  ['valid', scenario({ mode: 'valid' })],
  ['break', scenario({ mode: 'break' })],
  ['mixed (default)', scenario()],
  ['valid, size max', scenario({ mode: 'valid', size: 'max' })],
] as const) {
  fc.sample(arb, { seed: 1, numRuns: 200 }); // warm-up (JIT)
  const t0 = process.hrtime.bigint();
  const xs = fc.sample(arb, { seed: 42, numRuns: count });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const ops = xs.reduce((n, s) => n + size(s), 0) / xs.length;
  const progs = xs.reduce((n, s) => n + s.programs.length, 0) / xs.length;
  console.log(`${label.padEnd(16)} ${String(Math.round((count / ms) * 1000)).padStart(7)} scenarios/s  (${count} in ${ms.toFixed(0)} ms; avg ${progs.toFixed(2)} programs, ${ops.toFixed(1)} ops)`);
}
