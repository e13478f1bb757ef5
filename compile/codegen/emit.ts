import type { Program, Scenario } from '../../types/index.ts';
import { cString } from './cLiteral.ts';
import { emitPrelude, emitScenario } from './emitScenario.ts';
import { DEFAULT_LICENSE, licenseOf } from './licenseOf.ts';
import { scenarioIdentifiers } from './scenarioIdentifiers.ts';
import { scenarioInvalid } from './scenarioInvalid.ts';

/** One C translation unit holding several scenarios, and which program belongs to which scenario. */
export interface EmittedBatch {
  readonly source: string;
  readonly programs: readonly { readonly scenarioId: string; readonly program: string }[];
}

/** What a reproducer asserts about one program, in the kernel's test_loader vocabulary. */
export interface ProgramNote {
  readonly program: string;
  /** `__description("...")`: the rule id or finding the program demonstrates */
  readonly description: string;
  readonly expect:
    | { readonly verdict: 'accepted'; readonly retval: number | null }
    /** `__msg` patterns in log order; `{{regex}}` islands are kept for test_loader */
    | { readonly verdict: 'rejected'; readonly msgs: readonly string[] };
}

/**
 * The one license of an object holding these scenarios, after checking they can share it: their
 * file-scope identifiers are disjoint and their licenses agree.
 * @throws KptrError KPTR_SCENARIO_INVALID on a collision or a license mix
 */
export function batchLicense(scenarios: readonly Scenario[]): string {
  // one Set of every identifier, one add each (an add that leaves its size as it was met one already defined); the
  // scenario that defined it first is searched for only then
  const seen = new Set<string>();
  for (let k = 0; k < scenarios.length; k++) {
    const s = scenarios[k]!;
    for (const id of scenarioIdentifiers(s)) {
      const before = seen.size;
      if (seen.add(id).size > before) continue;
      const other = scenarios.findIndex((o) => scenarioIdentifiers(o).includes(id));
      if (other === k) throw scenarioInvalid(s.id, `defines ${id} twice`);
      throw scenarioInvalid(s.id, `${id} is also defined by scenario ${scenarios[other]!.id} in the same batch`);
    }
  }
  // every scenario's license asked (one whose programs disagree throws first), the distinct ones listed only for a mix
  let license: string | null = null;
  let mixed = false;
  for (const s of scenarios) {
    const l = licenseOf(s);
    if (license === null) license = l;
    else if (l !== license) mixed = true;
  }
  if (mixed) {
    const licenses = [...new Set(scenarios.map(licenseOf))];
    throw scenarioInvalid(scenarios[0]!.id, `a batch mixes licenses (${licenses.join(', ')}); one object has one license`);
  }
  return license ?? DEFAULT_LICENSE;
}

/**
 * One selftest-style .bpf.c for several scenarios (one clang run, one object). Identifiers are
 * used verbatim, so the scenarios' file-scope identifiers must be disjoint, and an object has one
 * license, so they must share it; packBatches() builds batches that satisfy both.
 * @throws KptrError KPTR_SCENARIO_INVALID on a collision, a license mix, or a scenario that names
 * something it does not define
 */
export function emitBatch(scenarios: readonly Scenario[]): EmittedBatch {
  const license = batchLicense(scenarios);
  const lines = [
    ...emitPrelude(license, `kptr-conform batch of ${scenarios.length} scenario(s), generated`),
    ...scenarios.flatMap((s) => emitScenario(s, () => [])),
  ];
  return {
    source: lines.join('\n'),
    programs: scenarios.flatMap((s) => s.programs.map((p) => ({ scenarioId: s.id, program: p.name }))),
  };
}

/**
 * A single-scenario file in the kernel's test_loader style: `SEC("?tc") __description("...")
 * __failure __msg("...")` (or `__success __retval(n)`) above each noted program, `#include
 * "kptr.h"`. It compiles as it is with kptr.h beside it.
 * @throws KptrError KPTR_SCENARIO_INVALID when a note names a program the scenario lacks
 */
export function emitReproducer(scenario: Scenario, notes: readonly ProgramNote[]): string {
  for (const note of notes) {
    if (!scenario.programs.some((p) => p.name === note.program)) {
      throw scenarioInvalid(scenario.id, `a reproducer note names program ${note.program}, which the scenario lacks`);
    }
  }
  const annotations = (p: Program): string[] =>
    notes.filter((n) => n.program === p.name).flatMap((n) => [`__description(${cString(n.description)})`, expectLine(n)]);
  return [
    ...emitPrelude(licenseOf(scenario), `kptr-conform reproducer: ${scenario.description}${originText(scenario)}`),
    ...emitScenario(scenario, annotations),
  ].join('\n');
}

function expectLine(note: ProgramNote): string {
  if (note.expect.verdict === 'rejected') return ['__failure', ...note.expect.msgs.map((m) => `__msg(${cString(m)})`)].join(' ');
  return note.expect.retval === null ? '__success' : `__success __retval(${note.expect.retval})`;
}

/** fast-check replay information, so the reproducer leads back to its run. */
function originText(s: Scenario): string {
  return s.origin === null ? '' : ` (seed ${s.origin.seed}, path ${s.origin.path}, index ${s.origin.index})`;
}
