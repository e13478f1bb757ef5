import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KptrError } from '../../errors/KptrError.ts';
import { loadScenarioFile, loadSpec } from '../../specs/load.ts';
import { announceRunner, resolveFromArgv, type CliOptions } from '../config.ts';
import { openOutputs } from '../outputs.ts';
import { runStoppable, stoppedBy } from '../stoppable.ts';
import { EXIT } from '../../errors/exitCodes.ts';
import { preflight } from '../preflight.ts';
import { checkScenarios } from '../pipeline.ts';
import { printable } from '../../reports/printable.ts';
import { openSession } from '../session.ts';

/** A finding folder or a scenario file. */
function scenarioPath(file: string): string {
  if (!existsSync(file)) throw new KptrError('KPTR_USAGE', `no such file: ${file}`, 'pass a findings/<id>/ folder or a scenario .yaml file');
  return statSync(file).isDirectory() ? join(file, 'scenario.yaml') : file;
}

/** `kptr-conform replay FILE`: the saved scenario, exactly, on the chosen runner; exit 1 if it still mismatches. */
export async function replay(file: string, opts: CliOptions): Promise<number> {
  const spec = loadSpec();
  const path = scenarioPath(file);
  const s = loadScenarioFile(path);
  const cfg = await preflight(await resolveFromArgv('replay', opts));
  announceRunner(cfg);
  const { done, received } = await runStoppable(
    `the summary and reports so far to ${cfg.outDir}`,
    (onFailure) => openOutputs(cfg, spec, { rerun: { kind: 'file', file: resolve(path) }, onFailure }),
    async (outputs, { signal }) => {
      for (const kernelName of cfg.kernels) {
        signal.throwIfAborted();
        const session = await openSession(cfg, kernelName, spec, signal);
        outputs.startSegment(session, 1);
        const [c] = await checkScenarios({ runner: session.runner, kernel: session.kernel, spec, scenarios: [s], signal, onCase: (x) => outputs.onCase(x) });
        if (c && !cfg.json) {
          for (const m of c.result.mismatches) process.stdout.write(printable(`[${m.kind}] ${m.program ?? ''}\n${m.detail}\n`));
        }
      }
    },
  );
  if (received !== null) return stoppedBy(received, done, cfg.outDir);
  return done.summaries.some((x) => x.failed + x.errors > 0) ? EXIT.mismatch : EXIT.ok;
}
