import type { Mismatch, Observation, Prediction } from '../types/index.ts';
import { unexplainedMismatches } from '../judge/compare.ts';
import { firstErrorLine } from '../judge/matchMessages.ts';

/**
 * One line of kernel output with what differs between two sightings of the same bug taken out: the scenario's own
 * name prefix (generated names are `<scenario id>_<name>`), addresses and hex numbers, then every other number
 * (register numbers, instruction indices, reference ids, CPUs, PIDs, source line numbers).
 */
export function normaliseLine(line: string, scenarioId: string): string {
  // scenario ids are C identifiers (scenario.schema.json): nothing in one needs escaping
  const id = new RegExp(`(?<![A-Za-z0-9])${scenarioId}(?![A-Za-z0-9])`, 'g');
  const own = scenarioId === '' ? line : line.replace(id, '<id>');
  return own
    .replace(/0x[0-9a-fA-F]+/g, '<hex>')
    // a bare address (`address: 0000000000000008`, `ffff8880...`): 8 hex digits or more
    .replace(/\b[0-9a-fA-F]{8,}\b/g, '<addr>')
    .replace(/\d+/g, 'N')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The rule a program's mismatch is about: the rule the oracle expects it refused by, `valid` when it should load. */
function ruleOf(m: Mismatch, p: Prediction): string {
  const pp = p.programs.find((x) => x.program === m.program);
  return pp?.verdict === 'rejected' ? pp.expected.ruleId : 'valid';
}

/** What the kernel said that shows the bug: its first error line, a splat's title, the runner's error, or which value. */
function kernelLine(m: Mismatch, o: Observation): string {
  switch (m.kind) {
    case 'verdict_kernel_accepts': return 'accepted';
    case 'verdict_kernel_rejects':
    case 'message': {
      const obs = o.programs.find((x) => x.program === m.program);
      if (obs?.verdict !== 'rejected') return m.observed;
      return `${obs.stage} ${obs.errnoName}: ${firstErrorLine(obs.log) ?? '(empty log)'}`;
    }
    // a value mismatch's numbers and global names are the case's own: only whether the return value or a global differs
    case 'value': return m.expected.startsWith('retval=') ? 'retval' : 'global';
    case 'splat':
    case 'runner_error': return m.observed.split('\n')[0]!;
    // a userspace map operation: what the kernel returned (errno or looked-up words), numbers normalised below
    case 'map_op': return m.observed.split('\n')[0]!;
    // how much leaked depends on the passes and the noise: the kind and the case's rule are the bug
    case 'leak': return 'percpu memory not returned';
  }
}

/**
 * The signature of the bug a case shows on its kernel: its unexplained mismatches, each as kind, rule and the kernel's
 * normalised line, then the kernel release. Two cases with the same signature are taken to show the same bug (one
 * bucket, one shrunk finding). null when every mismatch is explained (nothing to bucket).
 */
export function bugSignature(p: Prediction, o: Observation): string | null {
  const parts = unexplainedMismatches(p, o).map((m) => `${m.kind}[${ruleOf(m, p)}]: ${normaliseLine(kernelLine(m, o), o.scenarioId)}`);
  if (parts.length === 0) return null;
  return `${[...new Set(parts)].sort().join(' + ')} @ ${o.kernel.release}`;
}
