import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { emitReproducer, type ProgramNote } from '../compile/codegen/emit.ts';
import { loadSpec, scenarioToYaml } from '../specs/load.ts';
import type { CaseResult, KernelInfo, MapOpContract, Observation, Prediction, RunnerName, Scenario } from '../types/index.ts';
import { emitReproCheck } from './emitReproCheck.ts';
import { replayCommand, type ReplayTarget } from './replayCommand.ts';
import type { FindingRef } from './summary.ts';

/** Everything known about one unexplained mismatch, usually after shrinking. */
export interface Finding {
  /** directory name under findings/; use findingId(result) */
  readonly id: string;
  readonly scenario: Scenario;
  readonly prediction: Prediction;
  readonly observation: Observation;
  readonly result: CaseResult;
  /** fast-check replay information, null for hand-written cases */
  readonly seed: number | null;
  readonly path: string | null;
  readonly kernel: KernelInfo;
  readonly runner: RunnerName;
  /** runner, kernel and codegen of the observation, as `replay` options */
  readonly replay: ReplayTarget;
  /**
   * whether running the scenario again, alone, showed the mismatch again; null when not tried (verdicts, messages and
   * values do not depend on timing: only splats and runner failures are checked)
   */
  readonly reproduced: boolean | null;
  /** why shrinking stopped before it ran its course (`interrupted by SIGINT`), null when it did or was not asked for */
  readonly unshrunkBecause: string | null;
}

const KPTR_H = fileURLToPath(new URL('../compile/codegen/kptr.h', import.meta.url));

/** How to build the reproducer object; the same flags the runners use. */
export const REPRO_CLANG = 'clang-16 -g -O2 -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu -c repro.bpf.c -o repro.bpf.o';
const CHECK_GCC = 'gcc -O2 repro_check.c -o repro_check -static -lbpf -lelf -lz';

/**
 * The expectation written into the reproducer is the ORACLE's (what a correct kernel does), so the file fails on the
 * buggy kernel exactly as an upstream selftest would.
 */
export function programNotes(f: Finding): readonly ProgramNote[] {
  return f.prediction.programs.map((pp): ProgramNote => {
    if (pp.verdict === 'rejected') {
      return { program: pp.program, description: pp.expected.ruleId, expect: { verdict: 'rejected', msgs: pp.expected.lines } };
    }
    const firstRun = f.prediction.steps.find((s) => s.program === pp.program);
    return { program: pp.program, description: `${f.id}: ${pp.program} is valid`, expect: { verdict: 'accepted', retval: firstRun?.retval ?? null } };
  });
}

/** verifier.log: every rejected program's full log, each under a header with the kernel's one-line summary. */
export function verifierLogText(o: Observation): string {
  const logs = o.programs.flatMap((p) => (p.verdict === 'rejected' ? [`=== ${p.program}: ${p.summary}\n${p.log}${p.log.endsWith('\n') ? '' : '\n'}`] : []));
  return logs.length === 0 ? `every program was accepted by ${o.kernel.release}\n` : logs.join('\n');
}

const RUNTIME_KINDS = new Set(['value', 'map_op', 'splat', 'leak']);

/**
 * Programs a splat came from while the kernel verified them (the runner pinned it on a program the kernel rejected,
 * e.g. a verifier-bug WARN): loading repro.bpf.o shows those, nothing needs to run.
 */
function loadTimeSplats(f: Finding): ReadonlySet<string> {
  const rejected = new Set(f.observation.programs.filter((p) => p.verdict === 'rejected').map((p) => p.program));
  return new Set(f.result.mismatches.flatMap((m) => (m.kind === 'splat' && m.program !== null && rejected.has(m.program) ? [m.program] : [])));
}

/** Whether the finding needs repro_check.c: a mismatch that only running the programs shows. */
function needsRun(f: Finding): boolean {
  const atLoad = loadTimeSplats(f);
  return f.result.mismatches.some((m) => RUNTIME_KINDS.has(m.kind) && !(m.kind === 'splat' && m.program !== null && atLoad.has(m.program)));
}

let mapOpContracts: readonly MapOpContract[] | null = null;

/**
 * What a correct kernel does with the kptr field in each userspace map operation the schedule makes
 * (specs/ops/map), so the README states the contract the kernel breaks, not only the values that differ.
 */
function mapOpContractLines(s: Scenario): string[] {
  const used = [...new Set(s.schedule.flatMap((st) => ('mapOp' in st ? [st.mapOp] : [])))];
  if (used.length === 0) return [];
  mapOpContracts ??= loadSpec().mapOps;
  return [
    '## The contract',
    '',
    ...used.map((op) => mapOpContracts!.find((c) => c.mapOp === op)).flatMap((c) => (c === undefined ? [] : [`- ${c.command}: ${c.kptrField} ${c.afterwards}`])),
    '',
  ];
}

function readme(f: Finding, replay: string, runtime: boolean): string {
  const kinds = [...new Set(f.result.mismatches.map((m) => m.kind))].join(', ');
  const origin = f.seed === null ? 'hand-written scenario' : `seed ${f.seed}${f.path === null ? '' : `, path ${f.path}`}`;
  const lines = [
    `# Finding ${f.id}`,
    '',
    `${kinds} on kernel ${f.kernel.release} (${f.runner} runner, ${f.kernel.nrCpus} CPUs), scenario \`${f.scenario.id}\` (${origin}).`,
    '',
    `Scenario: ${f.scenario.description}.`,
    '',
    ...f.result.mismatches.map((m) => `- ${m.kind}${m.program === null ? '' : ` in ${m.program}`}${m.step === null ? '' : ` at step ${m.step}`}: expected ${m.expected}; observed ${m.observed}`),
    '',
    ...mapOpContractLines(f.scenario),
    ...(f.reproduced === false ? [
      '**Not reproduced.** Run again alone, compiled from C by clang (a fresh boot, for the vm runner), the scenario gave',
      'no mismatch: a crash may depend on timing or on what ran before it, or come from the emulator (QEMU TCG), and a',
      'mismatch seen on a directly written object (`--codegen direct`) may come from that object rather than the kernel.',
      'What is above was seen once; it was not shrunk.',
      '',
    ] : []),
    ...(f.unshrunkBecause === null ? [] : [
      `**Not fully shrunk** (${f.unshrunkBecause}): this is the case as far as shrinking got, a larger program than a`,
      'finished shrink would give; the mismatch above is real.',
      '',
    ]),
    '## Replay',
    '',
    '```',
    replay,
    '```',
    '',
    '## Reproducer',
    '',
    '`repro.bpf.c` is a selftest-style program file: its `__success`/`__failure __msg(...)` annotations state what a',
    'correct kernel does, so they fail on the kernel above. It needs only `kptr.h` beside it:',
    '',
    '```',
    REPRO_CLANG,
    '```',
    '',
    'Copied into `tools/testing/selftests/bpf/progs/` with a `RUN_TESTS()` line it runs under `test_progs`.',
    '`verifier.log` holds the full log of every program this kernel rejected.',
    ...[...loadTimeSplats(f)].map((p) => `The kernel logged its splat while verifying \`${p}\`: loading repro.bpf.o reproduces it (a WARN_ONCE prints once per boot; the verifier log line shows every time).`),
  ];
  if (runtime) {
    lines.push('', '## Runtime check', '', '`repro_check.c` loads the scheduled programs, runs them and the userspace map operations in order and', 'compares every retval, global, errno and looked-up value with the correct ones, printing PASS/FAIL:', '', '```', CHECK_GCC, 'sudo ./repro_check repro.bpf.o', '```');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Write `<outDir>/findings/<id>/`: scenario.yaml, repro.bpf.c + kptr.h, verifier.log, finding.json (the full case,
 * read back by the HTML report), README.md, and repro_check.c for runtime findings (value or splat mismatches).
 * Returns the entry for summary.findings.
 */
export async function writeFinding(outDir: string, f: Finding): Promise<FindingRef> {
  const rel = join('findings', f.id);
  const dir = join(outDir, rel);
  await mkdir(dir, { recursive: true });
  const replay = replayCommand(join(dir, 'scenario.yaml'), f.replay);
  const runtime = needsRun(f);
  const { id, seed, path, kernel, runner, result, prediction, observation } = f;
  await Promise.all([
    writeFile(join(dir, 'scenario.yaml'), scenarioToYaml(f.scenario)),
    writeFile(join(dir, 'repro.bpf.c'), emitReproducer(f.scenario, programNotes(f))),
    copyFile(KPTR_H, join(dir, 'kptr.h')),
    writeFile(join(dir, 'verifier.log'), verifierLogText(f.observation)),
    writeFile(join(dir, 'finding.json'), `${JSON.stringify({ id, seed, path, kernel, runner, result, prediction, observation }, null, 2)}\n`),
    writeFile(join(dir, 'README.md'), readme(f, replay, runtime)),
    ...(runtime ? [writeFile(join(dir, 'repro_check.c'), emitReproCheck(f.scenario, f.prediction, `finding ${f.id}: ${f.scenario.description}`))] : []),
  ]);
  return {
    id: f.id,
    scenarioId: f.scenario.id,
    runner: f.runner,
    kernelRelease: f.kernel.release,
    kinds: [...new Set(f.result.mismatches.map((m) => m.kind))],
    dir: rel,
    replay,
    reproduced: f.reproduced,
    unshrunkBecause: f.unshrunkBecause,
  };
}
