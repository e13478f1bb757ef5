/**
 * The command line's grammar: every command and option, with the actions injected, so tests parse command lines
 * (the CI workflow's and the Kubernetes Job's) with the very parser the tool uses.
 */
import { Command, type OptionValues } from 'commander';
import type { EmulateCliOptions } from './commands/emulate.ts';
import type { MergeCliOptions } from './commands/merge.ts';
import type { CliOptions } from './config.ts';

/** What each command does once its arguments are parsed (cli/main.ts passes the real ones). */
export interface CommandActions {
  selftests(opts: CliOptions): Promise<void>;
  run(opts: CliOptions): Promise<void>;
  replay(file: string, opts: CliOptions): Promise<void>;
  merge(dirs: readonly string[], opts: MergeCliOptions): Promise<void>;
  emulate(object: string, opts: EmulateCliOptions): Promise<void>;
  doctor(): Promise<void>;
  kernelsList(): Promise<void>;
  kernelsFetch(name: string): Promise<void>;
}

/** Only the options typed on the command line (not commander's defaults): what `run --resume` compares with its checkpoint. */
function given(opts: OptionValues, cmd: Command): CliOptions {
  return Object.fromEntries(Object.entries(opts).filter(([k]) => cmd.getOptionValueSource(k) === 'cli')) as CliOptions;
}

export function cliProgram(a: CommandActions): Command {
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
    .action((opts: CliOptions) => a.selftests(opts));

  runOptions(program.command('run'))
    .description('a property-based campaign: generate, predict, run, compare, shrink every mismatch')
    .option('--runs <n>', 'number of generated scenarios (default 200; without it, --duration generates until the time is up)')
    .option('--duration <time>', 'time budget, e.g. 90s, 30m, 2h: generate in segments until it is up, then finish and write everything')
    .option('--until-bugs <n>', 'stop generating once n findings are known')
    .option('--shard <k/n>', 'run shard k of n of the seed\'s cases (case i goes to shard i mod n + 1); `merge` joins the shards\' outputs')
    .option('--segment <n>', 'cases per segment: generated and run together, then checkpointed (default 2000)')
    .option('--resume <dir>', 'continue the interrupted campaign whose --out was dir (its checkpoint.json), appending to its outputs')
    .option('--seed <n>', 'seed, 0 to 4294967295 (default: random, printed)')
    .option('--mode <mode>', 'valid | break | mixed (default mixed)')
    .option('--prog-types <list>', 'tc,syscall,fentry,fentry.s')
    .option('--corpus <dir>', 'regression corpus replayed before new cases (default specs/regressions)')
    .option('--save-findings', 'add new findings to the corpus')
    .option('--no-shrink', 'report mismatches without shrinking them')
    .option('--max-shrinks <n>', 'shrink steps per finding (default 200)')
    .option('--shrinks-per-bug <n>', 'failing cases shrunk into findings per bug (same signature); the others are listed under it', '1')
    .option('--with-emulator', 'host or vm runner: run every case on the emulator too, with the profile of that kernel, and report where they differ')
    .action((opts: OptionValues, cmd: Command) => a.run(given(opts, cmd)));

  runOptions(program.command('replay <file>'))
    .description('run a saved scenario (a finding\'s scenario.yaml or a corpus entry) again and compare with the oracle')
    .action((file: string, opts: CliOptions) => a.replay(file, opts));

  program.command('merge <dirs...>')
    .description('merge the output directories of a campaign\'s shards (or of any runs) into one: results, summary, findings, JUnit, test_progs JSON, report.html')
    .requiredOption('--out <dir>', 'the merged output directory')
    .option('--force', 'replace the files of an earlier run in --out (refused otherwise)')
    .action((dirs: string[], opts: MergeCliOptions) => a.merge(dirs, opts));

  program.command('emulate <object>')
    .description('run a BPF object\'s programs on the userspace machine (no root, no kernel): return values, globals, faults')
    .option('--run <prog@cpu...>', 'programs to run in order, each on a CPU (default: every program once on CPU 0)')
    .option('--nr-cpus <n>', 'CPUs of the emulated machine (sets .rodata nr_cpus)', '2')
    .option('--repeat <n>', 'run each program n times', '1')
    .option('--freed-memory <how>', 'zeroed | reused-uncleared: how freed objects are handed out again (reused-uncleared: kernels >= 6.7)', 'zeroed')
    .action((object: string, opts: EmulateCliOptions) => a.emulate(object, opts));

  program.command('doctor')
    .description('what is installed, which runners and program types work here, and what to do about the rest')
    .action(() => a.doctor());

  const kernels = program.command('kernels').description('Debian kernel images for the vm runner');
  kernels.command('list').description('kernels known and cached').action(() => a.kernelsList());
  kernels.command('fetch <name>').description('download a Debian cloud kernel: 6.1 | 6.12 | 6.18 | 7.3 | latest')
    .action((name: string) => a.kernelsFetch(name));
  return program;
}
