/**
 * kptr-conform's command line: parses arguments, resolves them once into a RunConfig, and turns every failure of the
 * tool itself into one line and exit code 2. Exit codes: 0 all as predicted, 1 unexplained mismatches, 2 usage/environment.
 */
import { CommanderError } from 'commander';
import { KptrError } from '../errors/KptrError.ts';
import { doctor } from './commands/doctor.ts';
import { emulate } from './commands/emulate.ts';
import { kernelsFetch, kernelsList } from './commands/kernels.ts';
import { merge } from './commands/merge.ts';
import { replay } from './commands/replay.ts';
import { campaign } from './commands/campaign.ts';
import { selftests } from './commands/selftests.ts';
import { cliProgram } from './program.ts';

const exit = async (code: Promise<number>): Promise<void> => { process.exitCode = await code; };

const program = cliProgram({
  selftests: (opts) => exit(selftests(opts)),
  run: (opts) => exit(campaign(opts)),
  replay: (file, opts) => exit(replay(file, opts)),
  merge: (dirs, opts) => exit(merge(dirs, opts)),
  emulate: (object, opts) => exit(emulate(object, opts)),
  doctor: () => exit(doctor()),
  kernelsList: () => exit(kernelsList()),
  kernelsFetch: (name) => exit(kernelsFetch(name)),
});

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
