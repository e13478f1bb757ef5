/**
 * kptr-conform's command line: parses arguments, resolves them once into a RunConfig, and turns every failure of the
 * tool itself into one line and exit code 2. Exit codes: 0 all as predicted, 1 unexplained mismatches, 2 usage/environment.
 */
import { Command, CommanderError } from 'commander';
import { KptrError } from '../errors/KptrError.ts';
import { doctor } from './commands/doctor.ts';
import { emulate, type EmulateCliOptions } from './commands/emulate.ts';
import { kernelsFetch, kernelsList } from './commands/kernels.ts';
import { replay } from './commands/replay.ts';
import { campaign } from './commands/campaign.ts';
import { selftests } from './commands/selftests.ts';
import type { CliOptions } from './config.ts';

const program = new Command('kptr-conform')
  .description('Property-based conformance tests for the BPF per-CPU kptr API (bpf_percpu_obj_new, bpf_kptr_xchg, ...)')
  .exitOverride()
  .configureOutput({
    writeErr: (s) => process.stderr.write(s),
    // commander's own errors (unknown option, missing argument) as the one line every other error is, suggestion kept
    outputError: (s, write) => write(`kptr-conform: KPTR_USAGE: ${s.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} — see --help\n`),
  })
  .showSuggestionAfterError();

const runOptions = (c: Command): Command =>
  c
    .option('--runner <runner>', 'host | vm | emulator (default: host when it works here, else emulator; the choice and why go to stderr)')
    .option('--kernel <name|path>', 'vm runner: 6.1 | 6.12 | 6.18 | 7.3 | latest | a cached release | path to a bzImage; emulator: a profile, 6.1 | 6.12 | 6.18 | 6.18.44 | 7.3 (default 6.18.44)')
    .option('--kernels <list>', 'vm or emulator runner: several kernels, comma separated (e.g. 6.12,6.18,7.3)')
    .option('--codegen <how>', 'clang | direct: compile the C, or write the BPF object directly (default: direct for run, clang otherwise)')
    .option('--lanes <n>', 'vm runner: guests booted side by side (default: one per host CPU under TCG, one per two with KVM)')
    .option('--out <dir>', 'write summary.json, results.jsonl, junit.xml, test_progs.json, report.html here (default: ./kptr-out-<command>-<time>)')
    .option('--force', 'replace the files of an earlier run in --out (refused otherwise)')
    .option('--format <list>', 'reporters to write (comma separated; default all)')
    .option('--quiet', 'print only the summary')
    .option('--json', 'print the summary as JSON on stdout');

runOptions(program.command('selftests'))
  .description('run the built-in cases (upstream percpu_alloc_*.c selftests and the measured ground truth)')
  .option('--filter <substring>', 'only cases whose id contains this')
  .action(async (opts: CliOptions) => { process.exitCode = await selftests(opts); });

runOptions(program.command('run'))
  .description('a property-based campaign: generate, predict, run, compare, shrink every mismatch')
  .option('--runs <n>', 'number of generated scenarios', '200')
  .option('--seed <n>', 'seed, 0 to 4294967295 (default: random, printed)')
  .option('--mode <mode>', 'valid | break | mixed', 'mixed')
  .option('--prog-types <list>', 'tc,syscall,fentry,fentry.s')
  .option('--corpus <dir>', 'regression corpus replayed before new cases (default specs/regressions)')
  .option('--save-findings', 'add new findings to the corpus')
  .option('--no-shrink', 'report mismatches without shrinking them')
  .option('--max-shrinks <n>', 'shrink steps per finding', '200')
  .option('--shrinks-per-bug <n>', 'failing cases shrunk into findings per bug (same signature); the others are listed under it', '1')
  .option('--with-emulator', 'host or vm runner: run every case on the emulator too, with the profile of that kernel, and report where they differ')
  .action(async (opts: CliOptions) => { process.exitCode = await campaign(opts); });

runOptions(program.command('replay <file>'))
  .description('run a saved scenario (a finding\'s scenario.yaml or a corpus entry) again and compare with the oracle')
  .action(async (file: string, opts: CliOptions) => { process.exitCode = await replay(file, opts); });

program.command('emulate <object>')
  .description('run a BPF object\'s programs on the userspace machine (no root, no kernel): return values, globals, faults')
  .option('--run <prog@cpu...>', 'programs to run in order, each on a CPU (default: every program once on CPU 0)')
  .option('--nr-cpus <n>', 'CPUs of the emulated machine (sets .rodata nr_cpus)', '2')
  .option('--repeat <n>', 'run each program n times', '1')
  .option('--freed-memory <how>', 'zeroed | reused-uncleared: how freed objects are handed out again (reused-uncleared: kernels >= 6.7)', 'zeroed')
  .action(async (object: string, opts: EmulateCliOptions) => { process.exitCode = await emulate(object, opts); });

program.command('doctor')
  .description('what is installed, which runners and program types work here, and what to do about the rest')
  .action(async () => { process.exitCode = await doctor(); });

const kernels = program.command('kernels').description('Debian kernel images for the vm runner');
kernels.command('list').description('kernels known and cached').action(async () => { process.exitCode = await kernelsList(); });
kernels.command('fetch <name>').description('download a Debian cloud kernel: 6.1 | 6.12 | 6.18 | 7.3 | latest')
  .action(async (name: string) => { process.exitCode = await kernelsFetch(name); });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed its own one-line message; help and version exit 0
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof KptrError) {
    process.stderr.write(`kptr-conform: ${err.oneLine()}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`kptr-conform: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}
