import type { Divergence, ExpectedMessage, KernelTarget, Rule, RuleMessage, Spec } from '../types/index.ts';
import { versionInRange } from '../specs/versionRange.ts';
import { divergenceApplies, divergenceMayApply } from './divergenceApplies.ts';
import type { RuleHit } from './verifier/rules.ts';

/** The spec's rules as seen from one kernel: its version and which known divergences its probes showed. */
export interface RuleBook {
  /** the rule exists on this kernel: it has a message for it, or a known divergence says the kernel skips it */
  readonly applies: (ruleId: string) => boolean;
  /** the message lines a hit produces, params substituted */
  readonly message: (hit: RuleHit) => ExpectedMessage;
  /** spec divergences of this rule that apply to this kernel (divergenceApplies: the probe, else the range) */
  readonly divergences: (ruleId: string) => readonly Divergence[];
  /** a host-unsafe divergence of this rule may touch this kernel (divergenceMayApply: range or probe) */
  readonly hostUnsafe: (ruleId: string) => boolean;
}

interface Entry {
  readonly rule: Rule;
  readonly message: RuleMessage;
  /** the message's lines split at their `${param}`s once, filled per hit */
  readonly lines: readonly LineTemplate[];
  readonly divergences: readonly Divergence[];
  readonly hostUnsafe: boolean;
}

/** A message line split at its `${param}`s: literal text at even indexes, param names at odd ones. */
type LineTemplate = readonly string[];

const PARAM = /\$\{(\w+)\}/;

function lineTemplate(line: string): LineTemplate {
  return line.split(PARAM);
}

/** Fill `${param}`s; `{{regex}}` islands stay for the matcher. An unknown param stays as written, so a mismatch shows it. */
function fill(line: LineTemplate, params: Readonly<Record<string, string>>): string {
  let out = line[0] as string;
  for (let i = 1; i < line.length; i += 2) {
    const name = line[i] as string;
    out += (params[name] ?? `\${${name}}`) + (line[i + 1] as string);
  }
  return out;
}

type Kernel = Pick<KernelTarget, 'version' | 'divergences'>;

function entry(rule: Rule, kernel: Kernel, divergences: readonly Divergence[]): Entry | null {
  // a rejects_valid divergence is met through validPairs by programs no rule refuses
  const ofRule = divergences.filter((d) => d.kind !== 'value' && d.kind !== 'rejects_valid' && d.rule === rule.id);
  const message = rule.messages.find((m) => versionInRange(kernel.version, m.kernels))
    // a kernel that skips the rule (known divergence) still gets the correct kernel's wording: the newest one; so does
    // a build whose probe shows the divergence fixed
    ?? (ofRule.some((d) => divergenceMayApply(d, kernel)) ? rule.messages[rule.messages.length - 1] : undefined);
  if (!message) return null;
  const hostUnsafe = ofRule.some((d) => d.hostUnsafe && divergenceMayApply(d, kernel));
  return { rule, message, lines: message.lines.map(lineTemplate), divergences: ofRule.filter((d) => divergenceApplies(d, kernel)), hostUnsafe };
}

function build(spec: Spec, kernel: Kernel): RuleBook {
  const entries = new Map<string, Entry>();
  for (const rule of spec.rules) {
    const e = entry(rule, kernel, spec.divergences);
    if (e) entries.set(rule.id, e);
  }
  return {
    applies: (id) => entries.has(id),
    message: (hit) => {
      const e = entries.get(hit.ruleId) as Entry;
      return {
        ruleId: hit.ruleId,
        stage: e.rule.stage,
        errnoName: e.message.errno,
        lines: e.lines.map((l) => fill(l, hit.params)),
      };
    },
    divergences: (id) => entries.get(id)?.divergences ?? [],
    hostUnsafe: (id) => entries.get(id)?.hostUnsafe ?? false,
  };
}

const cache = new WeakMap<Spec, Map<string, RuleBook>>();

/** The rule book of `spec` for a kernel (memoised per version and probe results: predict runs thousands of times per spec). */
export function ruleBook(spec: Spec, kernel: Kernel): RuleBook {
  let byKernel = cache.get(spec);
  if (!byKernel) {
    byKernel = new Map();
    cache.set(spec, byKernel);
  }
  const key = [kernel.version, ...kernel.divergences.map((r) => `${r.divergenceId}=${r.status}`)].join(' ');
  let book = byKernel.get(key);
  if (!book) {
    book = build(spec, kernel);
    byKernel.set(key, book);
  }
  return book;
}
