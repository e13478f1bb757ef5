import type { DivergenceProbe, Observation, ProbeStatus } from '../types/index.ts';
import { matchMessages } from './matchMessages.ts';

/**
 * What one load-only probe observation says about a divergence: `shown` when the probe program got the verdict
 * (and, for a rejection, the verifier log holds the messages in order) that a kernel with the divergence gives;
 * `absent` for any other verdict; `unprobed` when the runner could not try the program. Pure.
 */
export function judgeProbe(probe: DivergenceProbe, o: Observation): { readonly status: ProbeStatus; readonly detail: string } {
  if (o.skipped !== null) return { status: 'unprobed', detail: `probe skipped: ${o.skipped}` };
  if (o.error !== null) return { status: 'unprobed', detail: `probe failed: ${o.error.code}: ${o.error.message}` };
  const obs = o.programs.find((p) => p.program === probe.program);
  if (obs === undefined) return { status: 'unprobed', detail: `no verdict for probe program ${probe.program}` };
  // a splat the probe's load logged (a verifier_bug WARN) is the kernel's own evidence: it goes with the verdict
  const logged = o.splats.filter((x) => x.during === probe.program).map((x) => x.text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !/^-+\[ cut here \]-+$/.test(l)) ?? x.kind);
  const verdict = obs.verdict === 'accepted' ? `${probe.program}: accepted` : obs.summary;
  const detail = logged.length === 0 ? verdict : `${verdict}; logged while loading: ${logged.join('; ')}`;
  const shown = probe.verdict === 'accepted'
    ? obs.verdict === 'accepted'
    : obs.verdict === 'rejected' && obs.stage === 'verifier' && matchMessages(obs.log, probe.msgs).ok;
  return { status: shown ? 'shown' : 'absent', detail };
}
