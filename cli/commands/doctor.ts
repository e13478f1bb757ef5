import { execa } from 'execa';
import { kernelDivergenceLines, kernelDivergences } from '../../reports/kernelDivergences.ts';
import { createHostRunner } from '../../runners/host/index.ts';
import { PROFILE_NAMES } from '../../emulator/verifier/profile.ts';
import { defaultRunner, hostUnavailable, probeMachine } from '../config.ts';
import { loadSpec } from '../../specs/load.ts';
import type { ProgType, RunnerCapabilities } from '../../types/index.ts';
import { probeDivergences, probedFeatures } from '../divergenceProbes.ts';
import { listKernels } from '../../runners/vm/kernelImages.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeAccel } from '../../runners/vm/qemu.ts';

interface Check {
  readonly what: string;
  readonly ok: boolean;
  readonly detail: string;
  /** what to do when not ok */
  readonly fix: string;
}

async function tool(cmd: string, args: readonly string[], what: string, fix: string): Promise<Check> {
  const r = await execa(cmd, args, { reject: false });
  const first = `${r.stdout}\n${r.stderr}`.split('\n').find((l) => l.trim()) ?? '';
  return { what, ok: r.exitCode === 0, detail: r.exitCode === 0 ? first.trim() : `${cmd} not usable`, fix };
}

/** `kptr-conform doctor`: what is installed, which runners and program types work here, what to do about the rest. */
export async function doctor(): Promise<number> {
  const setup = 'run: bash scripts/setup.sh';
  const checks: Check[] = await Promise.all([
    tool('clang-16', ['--version'], 'clang-16 (BPF compiler)', setup),
    tool('bpftool', ['version'], 'bpftool', setup),
    tool('qemu-system-x86_64', ['--version'], 'qemu-system-x86_64 (vm runner)', setup),
    tool('busybox', ['--help'], 'busybox (vm initramfs)', setup),
  ]);
  const machine = await probeMachine();
  const { host } = machine;
  const hostWhyNot = hostUnavailable(host);
  checks.push({
    what: 'host runner',
    ok: hostWhyNot === null,
    detail: host.kernel ? `kernel ${host.kernel.release}, ${host.kernel.nrCpus} CPUs` : 'no kernel information',
    fix: hostWhyNot ?? '',
  });
  for (const [type, r] of Object.entries(host.progTypes)) {
    checks.push({ what: `  host ${type} programs`, ok: r.ok, detail: r.ok ? 'load + test_run work' : r.reason ?? 'unavailable', fix: r.ok ? '' : 'use --runner vm for this program type' });
  }
  const kernels = await listKernels();
  // KVM is judged by booting a real guest with it (nested KVM often has /dev/kvm but dies), so it needs an image
  const accel = kernels[0] ? await probeAccel(kernels[0].vmlinuz, mkdtempSync(join(tmpdir(), 'kptr-doctor-'))) : null;
  checks.push({
    what: 'accelerator for the vm runner',
    ok: accel !== null,
    detail: accel === 'kvm' ? 'KVM' : accel === 'tcg' ? 'TCG (KVM does not boot a guest here)' : 'unknown until a kernel image is cached',
    fix: 'run: npx kptr-conform kernels fetch 6.12',
  });
  checks.push({
    what: 'kernel images (vm runner)',
    ok: kernels.length > 0,
    detail: kernels.length ? kernels.map((k) => k.release).join(', ') : 'none cached',
    fix: 'run: npx kptr-conform kernels fetch 6.12 (also 6.1, 6.18, 7.3, latest)',
  });
  // the emulator needs nothing from the machine: its kernels are profiles (specs/profiles)
  const modelled = machine.profile;
  checks.push({
    what: 'emulator runner',
    ok: true,
    detail: `profiles ${PROFILE_NAMES.join(', ')}${host.kernel ? `; this kernel is ${modelled === null ? 'not modelled by any' : `modelled by ${modelled}`}` : ''}`,
    fix: '',
  });
  for (const c of checks) {
    process.stdout.write(`${c.ok ? ' ok ' : 'MISS'}  ${c.what.padEnd(34)} ${c.detail}${c.ok || !c.fix ? '' : `\n      → ${c.fix}`}\n`);
  }
  const hostOk = checks.find((c) => c.what === 'host runner')!.ok;
  if (hostOk) process.stdout.write(`\n${(await hostDivergences(host)).join('\n')}\n`);
  const vmOk = checks.filter((c) => c.what.startsWith('qemu') || c.what.startsWith('kernel images')).every((c) => c.ok);
  process.stdout.write(`\nrunners usable here: ${[hostOk && 'host', vmOk && 'vm', 'emulator'].filter(Boolean).join(', ')}\n`);
  process.stdout.write(`without --runner, run, selftests and replay pick ${defaultRunner(machine).why}\n`);
  return 0;
}

/** Which known divergences the host kernel shows, by their load-only probes (verified, never run: host-safe). */
async function hostDivergences(host: RunnerCapabilities): Promise<string[]> {
  const kernel = host.kernel!;
  const workDir = mkdtempSync(join(tmpdir(), 'kptr-doctor-'));
  const runner = createHostRunner({ workDir, codegen: 'direct' });
  const available = Object.fromEntries(Object.entries(host.progTypes).map(([t, r]) => [t, r.ok])) as Record<ProgType, boolean>;
  try {
    const spec = loadSpec();
    const probes = await probeDivergences({ runner, kernel, available, spec });
    const features = Object.entries(probedFeatures(spec, probes)).map(([k, v]) => `${k}: ${v}`);
    return [
      ...kernelDivergenceLines(kernelDivergences(probes), kernel.release),
      ...probes.map((r) => `  probe ${r.divergenceId.padEnd(36)} ${r.status.padEnd(8)} ${r.detail}`),
      ...(features.length === 0 ? [] : [`the emulator models this kernel with its probes' features (--with-emulator): ${features.join(', ')}`]),
    ];
  } catch (error) {
    return [`known divergences on ${kernel.release}: could not probe (${(error as Error).message})`];
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
