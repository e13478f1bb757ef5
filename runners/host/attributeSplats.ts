import type { Scenario, Splat } from '../../types/index.ts';
import { consoleSplats } from '../kernelLog.ts';

/**
 * Splats in new console text, per scenario of the batch that was running. A splat the harness's `logged` marker
 * (--kmsg-watch) pins on a program goes to that program's scenario, `during` that program; one naming a JIT-ed
 * program (`bpf_prog_<tag>_<name>`, name cut at 15 characters) to that program's scenario; any other to every
 * scenario of the batch (a splat logged outside any load or test_run, e.g. when a map is freed).
 */
export function attributeSplats(text: string, batch: readonly Scenario[]): Map<string, Splat[]> {
  const out = new Map<string, Splat[]>(batch.map((s) => [s.id, []]));
  for (const sp of consoleSplats(text)) {
    const pinned = sp.program === null ? [] : batch.filter((s) => s.programs.some((p) => p.name === sp.program));
    const splat: Splat = { kind: sp.kind, text: sp.text, during: pinned.length > 0 ? sp.program : sp.during };
    const named = batch.filter((s) => s.programs.some((p) => sp.text.includes(`_${p.name.slice(0, 15)}`) && /bpf_prog_[0-9a-f]{16}_/.test(sp.text)));
    const owners = pinned.length > 0 ? pinned : named.length > 0 ? named : batch;
    for (const s of owners) out.get(s.id)?.push(splat);
  }
  return out;
}
