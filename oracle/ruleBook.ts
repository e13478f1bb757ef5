import type { Divergence, ExpectedMessage, Rule, RuleMessage, Spec } from '../types/index.ts';
import { versionInRange } from '../specs/versionRange.ts';
import type { RuleHit } from './verifier/rules.ts';

/** The spec's rules as seen from one kernel version. */
export interface RuleBook {
  /** the rule exists on this kernel: it has a message for it, or a known divergence says the kernel skips it */
  readonly applies: (ruleId: string) => boolean;
  /** the message lines a hit produces, params substituted */
  readonly message: (hit: RuleHit) => ExpectedMessage;
  /** spec divergences of this rule whose kernel range holds this version */
  readonly divergences: (ruleId: string) => readonly Divergence[];
}

interface Entry {
  readonly rule: Rule;
  readonly message: RuleMessage;
  readonly divergences: readonly Divergence[];
}

const PARAM = /\$\{(\w+)\}/g;

/** Fill `${param}`s; `{{regex}}` islands stay for the matcher. An unknown param stays as written, so a mismatch shows it. */
export function substitute(line: string, params: Readonly<Record<string, string>>): string {
  return line.replace(PARAM, (whole, name: string) => params[name] ?? whole);
}

function entry(rule: Rule, version: string, divergences: readonly Divergence[]): Entry | null {
  const own = divergences.filter((d) => d.kind !== 'value' && d.rule === rule.id && versionInRange(version, d.kernels));
  const message = rule.messages.find((m) => versionInRange(version, m.kernels))
    // a kernel that skips the rule (known divergence) still gets the correct kernel's wording: the newest one
    ?? (own.length > 0 ? rule.messages[rule.messages.length - 1] : undefined);
  return message ? { rule, message, divergences: own } : null;
}

function build(spec: Spec, version: string): RuleBook {
  const entries = new Map<string, Entry>();
  for (const rule of spec.rules) {
    const e = entry(rule, version, spec.divergences);
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
        lines: e.message.lines.map((l) => substitute(l, hit.params)),
      };
    },
    divergences: (id) => entries.get(id)?.divergences ?? [],
  };
}

const cache = new WeakMap<Spec, Map<string, RuleBook>>();

/** The rule book of `spec` for kernel `version` (memoised: predict runs thousands of times per spec). */
export function ruleBook(spec: Spec, version: string): RuleBook {
  let byVersion = cache.get(spec);
  if (!byVersion) {
    byVersion = new Map();
    cache.set(spec, byVersion);
  }
  let book = byVersion.get(version);
  if (!book) {
    book = build(spec, version);
    byVersion.set(version, book);
  }
  return book;
}
