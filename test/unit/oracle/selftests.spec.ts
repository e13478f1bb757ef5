import { describe, expect, it } from 'vitest';
import { loadSelftests, loadSpec } from '../../../specs/load.ts';
import { versionInRange } from '../../../specs/versionRange.ts';
import { predict } from '../../../oracle/predict.ts';
import { lineRegex } from './fixtures/build.ts';

const spec = loadSpec();
const cases = loadSelftests(undefined, spec);
const KERNELS = ['6.1.0', '6.12.0', '6.18.0', '7.3.0'];

/** Both sides may hold `{{regex}}` islands: the recorded msg for the concrete prediction, or the other way round. */
function lineMatches(predicted: string, recorded: string): boolean {
  return predicted === recorded || lineRegex(recorded).test(predicted) || lineRegex(predicted).test(recorded);
}

/** test_loader `__msg` semantics: the recorded substrings appear in order in the predicted lines. */
function inOrder(predicted: readonly string[], msgs: readonly string[]): boolean {
  let i = 0;
  for (const m of msgs) {
    while (i < predicted.length && !lineMatches(predicted[i] as string, m)) i++;
    if (i === predicted.length) return false;
    i++;
  }
  return true;
}

describe('oracle vs built-in selftest cases', () => {
  const cells = cases.flatMap((c) => KERNELS.map((version) => [`${c.source} ${c.scenario.id} @${version}`, c, version] as const));
  it('loads cases', () => expect(cases.length).toBeGreaterThan(0));
  it.each(cells)('%s', (_, c, version) => {
    const p = predict(c.scenario, { version, nrCpus: 2, divergences: [] }, spec);
    for (const e of c.expect.programs.filter((x) => versionInRange(version, x.kernels))) {
      // first matching entry per program wins
      if (c.expect.programs.find((x) => x.program === e.program && versionInRange(version, x.kernels)) !== e) continue;
      const got = p.programs.find((x) => x.program === e.program);
      // a case records the kernel's acceptance where it accepts an invalid program; a rejects_valid case records the correct kernel
      const divergent = p.divergences.some((d) => d.program === e.program && d.kind !== 'rejects_valid' && c.divergences.includes(d.divergenceId));
      expect(got?.verdict, `${e.program}: ${JSON.stringify(got)}`).toBe(divergent && e.verdict === 'accepted' ? 'rejected' : e.verdict);
      if (got?.verdict === 'rejected' && e.verdict === 'rejected') {
        const lines = [...got.expected.lines];
        expect(inOrder(lines, e.msgs), `${e.program}: predicted ${JSON.stringify(lines)}, recorded ${JSON.stringify(e.msgs)}`).toBe(true);
      }
    }
    const allAccepted = p.programs.every((x) => x.verdict === 'accepted');
    const last = p.steps.at(-1);
    if (allAccepted && Object.keys(c.expect.globals).length > 0) {
      for (const [g, v] of Object.entries(c.expect.globals)) expect(last?.globals[g], g).toBe(v);
    }
  });
});
