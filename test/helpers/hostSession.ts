import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeDivergences } from '../../cli/divergenceProbes.ts';
import type { Codegen } from '../../compile/buildObject.ts';
import { createHostRunner } from '../../runners/host/index.ts';
import type { ProbedKernel, ProgType, Spec } from '../../types/index.ts';

/**
 * The host runner as a session opens it (cli/session.ts): probed, and with the load-only divergence probes run, so
 * tests predict with what this kernel shows rather than what a version range claims.
 */
export async function hostSession(spec: Spec, codegen: Codegen = 'clang') {
  const runner = createHostRunner({ workDir: await mkdtemp(join(tmpdir(), `kptr-${codegen}-`)), codegen });
  const caps = await runner.probe();
  const available = Object.fromEntries(Object.entries(caps.progTypes).map(([t, r]) => [t, r.ok])) as Record<ProgType, boolean>;
  const divergences = await probeDivergences({ runner, kernel: caps.kernel!, available, spec });
  const kernel: ProbedKernel = { ...caps.kernel!, divergences };
  return { runner, kernel, available };
}

/** This kernel's probe result for one known divergence (a test asks before it decides what the tool must report). */
export function probeOf(kernel: ProbedKernel, divergenceId: string) {
  const r = kernel.divergences.find((d) => d.divergenceId === divergenceId);
  if (!r) throw new Error(`no probe result for divergence ${divergenceId}`);
  return r;
}
