import { existsSync, readFileSync } from 'node:fs';
import { loadObject, Machine, type FreedMemory, type RunResult } from '../../emulator/index.ts';
import { KptrError } from '../../errors/KptrError.ts';

/** What `kptr-conform emulate` was given (commander's output). */
export interface EmulateCliOptions {
  readonly run?: readonly string[];
  readonly nrCpus?: string;
  readonly repeat?: string;
  readonly freedMemory?: string;
}

/** The options resolved once. */
export interface EmulateConfig {
  readonly object: string;
  /** program and CPU of each run, in order; every program of the object on CPU 0 when none was given */
  readonly runs: readonly { readonly program: string; readonly cpu: number }[] | null;
  readonly nrCpus: number;
  readonly repeat: number;
  readonly freedMemory: FreedMemory;
}

const FREED_MEMORY: readonly FreedMemory[] = ['zeroed', 'reused-uncleared'];

function positiveInt(value: string, flag: string, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) throw new KptrError('KPTR_USAGE', `${flag} must be an integer from 1 to ${max}, not '${value}'`, `pass e.g. ${flag} 2`);
  return n;
}

/** @throws KptrError KPTR_USAGE */
export function resolveEmulate(object: string, o: EmulateCliOptions): EmulateConfig {
  const nrCpus = positiveInt(o.nrCpus ?? '2', '--nr-cpus', 1024);
  const freedMemory = (o.freedMemory ?? 'zeroed') as FreedMemory;
  if (!FREED_MEMORY.includes(freedMemory)) throw new KptrError('KPTR_USAGE', `--freed-memory must be one of ${FREED_MEMORY.join(', ')}, not '${o.freedMemory}'`, 'reused-uncleared emulates kernels >= 6.7 (divergence percpu_obj_new_uncleared)');
  const runs = o.run?.length
    ? o.run.map((r) => {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:@(\d+))?$/.exec(r);
        if (!m) throw new KptrError('KPTR_USAGE', `--run ${r}: expected PROG or PROG@CPU`, 'name a program of the object, optionally with the CPU to run it on');
        const cpu = Number(m[2] ?? 0);
        if (cpu >= nrCpus) throw new KptrError('KPTR_USAGE', `--run ${r}: cpu ${cpu} does not exist (--nr-cpus ${nrCpus})`, 'pick a CPU below --nr-cpus or raise it');
        return { program: m[1] as string, cpu };
      })
    : null;
  return { object, runs, nrCpus, repeat: positiveInt(o.repeat ?? '1', '--repeat', 1_000_000), freedMemory };
}

function describe(r: RunResult, iter: number, repeat: number): string {
  const head = `${r.program}@${r.cpu}${repeat > 1 ? ` #${iter}` : ''}`;
  if (r.outcome === 'exit') return `${head}: retval ${r.retval}`;
  const o = r.oops;
  return `${head}: Oops: ${o.why} at insn ${o.insn}${o.address ? `, address ${o.address}` : ''}`;
}

/**
 * `kptr-conform emulate OBJECT.o --run PROG[@CPU] ...`: loads the object on the userspace machine (no privileges, no
 * kernel) and runs the programs in order, printing each run's return value or Oops and the integer globals of
 * .bss/.data/.rodata after it. Exit 0, or 1 when a run faulted; a bad object or an unknown program is one line, exit 2.
 */
export async function emulate(object: string, o: EmulateCliOptions, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const c = resolveEmulate(object, o);
  if (!existsSync(c.object)) throw new KptrError('KPTR_USAGE', `no such file: ${c.object}`, 'pass a BPF object (.bpf.o), e.g. a finding\'s repro.bpf.o');
  const spec = loadObject(readFileSync(c.object), { rodata: { nr_cpus: c.nrCpus } });
  const machine = Machine.load(spec, { nrCpus: c.nrCpus, freedMemory: c.freedMemory });
  const runs = c.runs ?? spec.programs.map((p) => ({ program: p.name, cpu: 0 }));
  const unknown = runs.find((r) => !machine.hasProgram(r.program));
  if (unknown) throw new KptrError('KPTR_USAGE', `no program ${unknown.program} in ${c.object}`, `programs: ${machine.programNames().join(', ') || '(none)'}`);
  out(`emulating ${c.object}: ${spec.programs.length} programs, ${spec.maps.length} maps, ${c.nrCpus} CPUs, freed memory ${c.freedMemory}`);
  let faults = 0;
  for (const r of runs) {
    for (let i = 0; i < c.repeat; i++) {
      const result = machine.run(r.program, r.cpu);
      if (result.outcome === 'fault') faults++;
      const globals = Object.entries(machine.globals()).map(([k, v]) => `${k}=${v}`).join(' ');
      out(`${describe(result, i, c.repeat)}${globals ? `  ${globals}` : ''}`);
    }
  }
  const atFree = machine.free();
  for (const p of atFree) out(`Oops: ${p}`);
  out(`${runs.length * c.repeat} runs, ${faults + atFree.length} faults; ${machine.liveObjects()} objects leaked after the maps were freed`);
  return faults + atFree.length > 0 ? 1 : 0;
}
