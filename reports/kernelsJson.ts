import { join } from 'node:path';
import { kernelCaseCollector, kernelDisagreements } from './kernelDisagreements.ts';
import { replaceFile } from './replaceFile.ts';
import type { Reporter, ReporterOptions } from './reporter.ts';

/**
 * kernels.json, when a run covered several kernels: `{kernels, programs}` with every program the kernels treat
 * differently, or that some kernel treats differently from the oracle (reports/kernelDisagreements.ts).
 */
export function kernelsJsonReporter(options: ReporterOptions): Reporter {
  const cases = kernelCaseCollector(options.kernels);
  return {
    onCase: cases.add,
    async onEnd() {
      const runs = cases.runs();
      if (runs.size < 2) return;
      const body = { kernels: [...runs.keys()], programs: kernelDisagreements(runs) };
      await replaceFile(join(options.outDir, 'kernels.json'), `${JSON.stringify(body, null, 2)}\n`);
    },
  };
}
