import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../../specs/load.ts';
import { predict } from '../../../oracle/predict.ts';
import type { ProgType } from '../../../types/index.ts';
import { lineRegex } from './fixtures/build.ts';
import { GROUND_TRUTH } from './fixtures/groundTruth.ts';

const spec = loadSpec();
const VERSIONS: Readonly<Record<string, string>> = { '6.1': '6.1.0', '6.12': '6.12.117', '6.18': '6.18.44', '7.3': '7.3.4' };

describe('oracle vs research/ground-truth (first error line per kernel and mode)', () => {
  const cells = GROUND_TRUTH.flatMap((c) =>
    Object.entries(c.expect).flatMap(([k, modes]) =>
      Object.entries(modes).map(([mode, line]) => ({ c, kernel: k, mode: mode as ProgType, line: line as string })),
    ),
  );
  it.each(cells.map((x) => [`${x.c.name} ${x.kernel} ${x.mode}`, x] as const))('%s', (_, { c, kernel, mode, line }) => {
    const p = predict(c.scenario(mode), { version: VERSIONS[kernel] as string, nrCpus: 2, divergences: [] }, spec);
    const prog = p.programs[0];
    if (line === 'A') {
      expect(prog?.verdict).toBe('accepted');
      return;
    }
    expect(prog?.verdict).toBe('rejected');
    if (prog?.verdict !== 'rejected') return;
    const first = prog.expected.lines[0] as string;
    expect(line, `predicted ${JSON.stringify(prog.expected.lines)}`).toMatch(lineRegex(first));
  });
});
