/**
 * The harness's JSON lines (runners/native/harness.c `--out`), decoded field by field. A line that is JSON but not an
 * event of this protocol (a harness binary built from another checkout) is an error that names the line and what is
 * wrong with it, never an event with fields missing; a line that is not JSON at all (the torn last line of a killed
 * harness) carries nothing and is dropped.
 */
import { KptrError } from '../errors/KptrError.ts';
import type { MapOpKind, RejectStage } from '../types/index.ts';

export type HarnessEvent =
  | { ev: 'kernel'; release: string; nr_cpus: number }
  | { ev: 'load'; prog: string; verdict: 'accepted'; ns: number }
  | {
      ev: 'load';
      prog: string;
      verdict: 'rejected';
      stage: RejectStage;
      errno: number;
      errno_name: string;
      log: string;
      ns: number;
    }
  | { ev: 'object'; ok: boolean; stage: RejectStage; errno: number; errno_name: string; log: string }
  | {
      ev: 'run';
      scenario: string;
      prog: string;
      cpu: number;
      iter: number;
      err: string | null;
      retval: number | null;
      ns: number;
      globals: Record<string, string | null>;
      /** the schedule step, on the runs of a `concurrent` line (they are not in schedule order with the others) */
      step?: number;
    }
  | { ev: 'skip'; scenario: string; prog: string; reason: string; step?: number }
  | { ev: 'grace_period'; scenario: string; err: string | null; ns: number }
  | { ev: 'free_maps'; scenario: string; err: string | null; ns: number }
  | { ev: 'owner_exit'; scenario: string; err: string | null; ns: number }
  | { ev: 'memory'; iterations: number; percpu_kb_before: number; percpu_kb_after: number; percpu_kb: number[] }
  | { ev: 'mapop'; scenario: string; step: number; op: MapOpKind; err: string | null; value: string[][] | null; count?: number; keys?: number[] }
  | { ev: 'done' };

/** A field's check, with the words an error uses for what it expected. */
interface Check {
  readonly ok: (v: unknown) => boolean;
  readonly want: string;
}
const check = (want: string, ok: (v: unknown) => boolean): Check => ({ want, ok });
const str = check('a string', (v) => typeof v === 'string');
const num = check('a number', (v) => typeof v === 'number' && Number.isFinite(v));
const bool = check('true or false', (v) => typeof v === 'boolean');
const nullOr = (c: Check): Check => check(`null or ${c.want}`, (v) => v === null || c.ok(v));
const optional = (c: Check): Check => check(`absent or ${c.want}`, (v) => v === undefined || c.ok(v));
const arrayOf = (c: Check): Check => check(`an array, each element ${c.want}`, (v) => Array.isArray(v) && v.every(c.ok));
const oneOf = (...words: readonly string[]): Check => check(words.map((w) => `'${w}'`).join(' or '), (v) => typeof v === 'string' && words.includes(v));
const nameTo = (c: Check): Check => check(`an object, each value ${c.want}`, (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(c.ok));

const STAGE = oneOf('verifier', 'libbpf', 'map_create');
const STEP_DONE = { scenario: str, err: nullOr(str), ns: num };
/** each event's fields (`ev` aside); a rejected load has REJECTED_LOAD's too */
const FIELDS: Readonly<Record<HarnessEvent['ev'], Readonly<Record<string, Check>>>> = {
  kernel: { release: str, nr_cpus: num },
  load: { prog: str, verdict: oneOf('accepted', 'rejected'), ns: num },
  object: { ok: bool, stage: STAGE, errno: num, errno_name: str, log: str },
  run: { scenario: str, prog: str, cpu: num, iter: num, err: nullOr(str), retval: nullOr(num), ns: num, globals: nameTo(nullOr(str)), step: optional(num) },
  skip: { scenario: str, prog: str, reason: str, step: optional(num) },
  grace_period: STEP_DONE,
  free_maps: STEP_DONE,
  owner_exit: STEP_DONE,
  memory: { iterations: num, percpu_kb_before: num, percpu_kb_after: num, percpu_kb: arrayOf(num) },
  mapop: { scenario: str, step: num, op: str, err: nullOr(str), value: nullOr(arrayOf(arrayOf(str))), count: optional(num), keys: optional(arrayOf(num)) },
  done: {},
};
const REJECTED_LOAD: Readonly<Record<string, Check>> = { stage: STAGE, errno: num, errno_name: str, log: str };

/** What keeps `v` from being a harness event, or null. */
export function eventProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  const fields = typeof o.ev === 'string' && Object.hasOwn(FIELDS, o.ev) ? FIELDS[o.ev as HarnessEvent['ev']] : undefined;
  if (fields === undefined) return `unknown event ${JSON.stringify(o.ev)}`;
  const all = o.ev === 'load' && o.verdict === 'rejected' ? { ...fields, ...REJECTED_LOAD } : fields;
  for (const [name, c] of Object.entries(all)) {
    if (!c.ok(o[name])) return `${o.ev}: ${name} is ${o[name] === undefined ? 'missing' : JSON.stringify(o[name])}, expected ${c.want}`;
  }
  return null;
}

/** The events of a harness's output; `source` names it in errors (the output file, or the guest's channel). */
export function decodeEvents(text: string, source: string): HarnessEvent[] {
  const events: HarnessEvent[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      // a partial line from a killed harness carries nothing we can trust
      continue;
    }
    const problem = eventProblem(v);
    if (problem !== null) {
      throw new KptrError('KPTR_HARNESS_PROTOCOL', `${source} line ${i + 1}: not an event of this harness protocol: ${problem}`,
        'the harness binary was built from another checkout: rebuild it with scripts/build-harness.sh (or scripts/setup.sh)');
    }
    events.push(v as HarnessEvent);
  }
  return events;
}
