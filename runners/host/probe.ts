import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { release as osRelease } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { KernelInfo, RunnerCapabilities } from '../../types/index.ts';
import { DEFAULT_HARNESS_PATH } from '../harnessProtocol.ts';
import { defaultCacheDir } from '../cacheDir.ts';


type ProgTypes = RunnerCapabilities['progTypes'];

/** What `harness probe` prints. */
interface HarnessProbe {
  readonly release: string;
  readonly nr_cpus: number;
  readonly caps: { readonly bpf: boolean; readonly perfmon: boolean; readonly sys_admin: boolean };
  readonly prog_types: ProgTypes;
}

export interface ProbeHostOptions {
  readonly harnessPath?: string;
  /** where per-release results are kept; default `${XDG_CACHE_HOME:-~/.cache}/kptr-conform` */
  readonly cacheDir?: string;
}

/** `6.18.44-fc-v669` → `6.18.44`; a release without a patch level gets `.0`. */
export function kernelVersion(release: string): string {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  return m ? `${m[1]}.${m[2]}.${m[3] ?? '0'}` : '0.0.0';
}

/** Effective capabilities of this process, from /proc/self/status (they change between runs, so never cached). */
async function effectiveCaps(): Promise<{ bpf: boolean; perfmon: boolean }> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  const eff = hex ? BigInt(`0x${hex}`) : 0n;
  const has = (cap: bigint): boolean => ((eff >> cap) & 1n) === 1n;
  // CAP_BPF and CAP_PERFMON (39, 38) split CAP_SYS_ADMIN (21); kernels before 5.8 only know the latter
  return { bpf: has(39n) || has(21n), perfmon: has(38n) || has(21n) };
}

function unavailable(reason: string): ProgTypes {
  const no = { ok: false, reason };
  return { tc: no, syscall: no, fentry: no, 'fentry.s': no };
}

/**
 * What the host runner can do on this machine: runs `harness probe` (tiny programs of each type are loaded and
 * test-run) once per kernel release and caches the answer under `~/.cache/kptr-conform/`; privileges are
 * re-read every time. Never throws: problems are listed in `problems`.
 */
export async function probeHost(options: ProbeHostOptions = {}): Promise<RunnerCapabilities> {
  const harness = options.harnessPath ?? DEFAULT_HARNESS_PATH;
  const release = osRelease();
  const caps = await effectiveCaps();
  const problems: string[] = [];
  if (!caps.bpf || !caps.perfmon) problems.push('no CAP_BPF/CAP_PERFMON: run as root or grant CAP_BPF+CAP_PERFMON');

  const harnessOk = await access(harness, constants.X_OK).then(
    () => true,
    () => false,
  );
  if (!harnessOk) problems.push(`native harness missing at ${harness}: run scripts/build-harness.sh`);

  const cacheFile = join(options.cacheDir ?? defaultCacheDir(), `probe-${release}.json`);
  let probe: HarnessProbe | null = await readFile(cacheFile, 'utf8').then(
    (t) => JSON.parse(t) as HarnessProbe,
    () => null,
  );
  if (!probe && harnessOk && problems.length === 0) {
    const r = await execa(harness, ['probe'], { reject: false });
    if (r.exitCode === 0) {
      probe = JSON.parse(r.stdout) as HarnessProbe;
      // an unprivileged answer says nothing about the kernel: only privileged probes are kept
      if (probe.caps.bpf) {
        await mkdir(dirname(cacheFile), { recursive: true });
        await writeFile(cacheFile, `${JSON.stringify(probe)}\n`);
      }
    } else {
      problems.push(`harness probe failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
    }
  }

  const nrCpus = probe?.nr_cpus ?? (await possibleCpus());
  const kernel: KernelInfo = { release, version: kernelVersion(release), nrCpus, machine: 'host' };
  return {
    runner: 'host',
    kernel,
    progTypes: probe && problems.length === 0 ? probe.prog_types : unavailable(problems[0] ?? 'not probed'),
    problems,
  };
}

/** `/sys/devices/system/cpu/possible` (`0-1`, `0,2-3`) counted the way libbpf_num_possible_cpus() does. */
async function possibleCpus(): Promise<number> {
  const text = await readFile('/sys/devices/system/cpu/possible', 'utf8').catch(() => '0');
  let max = 0;
  for (const part of text.trim().split(',')) {
    const hi = Number(part.split('-').pop());
    if (Number.isInteger(hi)) max = Math.max(max, hi);
  }
  return max + 1;
}
