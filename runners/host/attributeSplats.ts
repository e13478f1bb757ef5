import type { Scenario, Splat } from '../../types/index.ts';
import { consoleSplats } from '../vm/console.ts';

/**
 * Splats in new console text, per scenario of the batch that was running. A splat naming a JIT-ed program
 * (`bpf_prog_<tag>_<name>`, name cut at 15 characters) goes to that program's scenario; any other to every
 * scenario of the batch, since the host runs without per-scenario markers.
 */
export function attributeSplats(text: string, batch: readonly Scenario[]): Map<string, Splat[]> {
  const out = new Map<string, Splat[]>(batch.map((s) => [s.id, []]));
  for (const sp of consoleSplats(text)) {
    const splat: Splat = { kind: sp.kind, text: sp.text, during: sp.during };
    const named = batch.filter((s) => s.programs.some((p) => sp.text.includes(`_${p.name.slice(0, 15)}`) && /bpf_prog_[0-9a-f]{16}_/.test(sp.text)));
    for (const s of named.length > 0 ? named : batch) out.get(s.id)?.push(splat);
  }
  return out;
}
