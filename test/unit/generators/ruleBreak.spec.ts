import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { breakVariants } from '../../../generators/_internals/breakVariants.ts';
import { BREAKABLE_RULES, ruleBreak } from '../../../generators/ruleBreak.ts';
import { scenario } from '../../../generators/scenario.ts';
import { checkScenarioRefs, parseScenario } from '../../../specs/scenarioSchema.ts';
import { programProblems } from './wellFormed.ts';

const SEED = 20261125;
/** The rule ids of the authoritative rule table (/tmp/rules.md, mirrored by specs/rules/<id>.yaml). */
const RULE_TABLE = [
  'per_cpu_ptr.unchecked_result',
  'kfunc.absent', 'kfunc.prog_type', 'kfunc.non_gpl', 'percpu_obj_new.size_limit', 'percpu_obj_new.not_scalars',
  'percpu_obj_new.special_fields', 'percpu_obj_drop.maybe_null', 'percpu_obj_drop.unreferenced', 'percpu_obj_drop.wrong_kind',
  'obj_drop.wrong_kind', 'kptr_xchg.type_mismatch', 'kptr_xchg.plain_into_percpu', 'kptr_xchg.bad_src', 'kptr_xchg.rcu_src', 'kptr.direct_store',
  'percpu_ptr.bad_arg', 'percpu.direct_deref', 'mem.maybe_null_deref', 'mem.scalar_deref', 'rcu.nested_lock',
  'rcu.unmatched_unlock', 'rcu.exit_locked', 'ref.leak', 'percpu_obj_new.nested_special_field', 'mem.untrusted_write',
  'attach.not_sleepable', 'local_storage.untrusted_owner', 'local_storage.prog_type', 'helper.gpl_only',
];
/** Rules that come from the kernel or the program type, not from the program text. */
const NOT_FROM_PROGRAMS = ['kfunc.absent', 'kfunc.prog_type', 'attach.not_sleepable', 'local_storage.prog_type'];
/** Rules broken by the object's license, which is every program's: the other programs are non-GPL too. */
const OBJECT_WIDE = ['kfunc.non_gpl', 'helper.gpl_only'];

/** `rule/variant in pN` notes of a generated description. */
function notes(description: string): { rule: string; variant: string; prog: string }[] {
  return [...description.matchAll(/([\w.]+)\/(\w+) in (p\d+)/g)].map((m) => ({ rule: m[1] ?? '', variant: m[2] ?? '', prog: m[3] ?? '' }));
}

describe('ruleBreak()', () => {
  it('covers every rule id of the rule table but the kernel-side ones, each with a spec file', () => {
    expect([...BREAKABLE_RULES].sort()).toEqual(RULE_TABLE.filter((r) => !NOT_FROM_PROGRAMS.includes(r)).sort());
    const specFiles = readdirSync(new URL('../../../specs/rules/', import.meta.url)).map((f) => f.replace(/\.yaml$/, ''));
    for (const r of BREAKABLE_RULES) expect(specFiles, r).toContain(r);
  });

  it('refuses a rule it cannot break', () => {
    expect(() => ruleBreak('kfunc.absent')).toThrow(/no generator breaks rule kfunc\.absent/);
  });

  for (const rule of BREAKABLE_RULES) {
    it(`${rule}: tagged, consistent, broken in exactly one program and only there`, () => {
      fc.assert(fc.property(ruleBreak(rule), (s) => {
        expect(s.intent).toEqual({ kind: 'break', rule });
        expect(parseScenario(JSON.parse(JSON.stringify(s)), 'gen')).toEqual(s);
        expect(checkScenarioRefs(s)).toEqual([]);
        const done = notes(s.description);
        expect(done).toHaveLength(1);
        const where = done[0]?.prog;
        for (const p of s.programs) {
          const problems = programProblems(s, p, 2);
          if (p.name === where) expect(problems.length, `${p.name} should break ${rule}`).toBeGreaterThan(0);
          // the license belongs to the whole object, so a non-GPL break relicenses the other programs too
          else if (OBJECT_WIDE.includes(rule)) expect(problems.filter((x) => !x.endsWith('non-GPL license')), p.name).toEqual([]);
          else expect(problems, p.name).toEqual([]);
        }
      }), { seed: SEED, numRuns: 80 });
    });
  }

  it('break mode generates every rule and every variant (table over 2000 runs)', () => {
    const byRule = new Map<string, number>();
    const byVariant = new Map<string, number>();
    for (const s of fc.sample(scenario({ mode: 'break' }), { seed: SEED, numRuns: 2000 })) {
      expect(s.intent.kind).toBe('break');
      const rule = s.intent.kind === 'break' ? s.intent.rule : '';
      expect(RULE_TABLE).toContain(rule);
      byRule.set(rule, (byRule.get(rule) ?? 0) + 1);
      for (const n of notes(s.description)) byVariant.set(`${n.rule}/${n.variant}`, (byVariant.get(`${n.rule}/${n.variant}`) ?? 0) + 1);
    }
    console.log(`rule -> count over 2000 break scenarios\n${[...byRule].sort().map(([r, n]) => `  ${r.padEnd(40)} ${n}`).join('\n')}`);
    console.log(`variant -> count\n${[...byVariant].sort().map(([r, n]) => `  ${r.padEnd(60)} ${n}`).join('\n')}`);
    for (const r of BREAKABLE_RULES) expect(byRule.get(r) ?? 0, r).toBeGreaterThan(30);
    for (const r of BREAKABLE_RULES) {
      for (const v of breakVariants(r)) expect(byVariant.get(`${r}/${v.name}`) ?? 0, `${r}/${v.name}`).toBeGreaterThan(0);
    }
  });

  it('mixed scenarios hold two breaks (or one where the second cannot apply) and stay consistent', () => {
    fc.assert(fc.property(scenario({ mode: 'mixed' }).filter((s) => s.intent.kind === 'mixed'), (s) => {
      expect(checkScenarioRefs(s)).toEqual([]);
      expect(notes(s.description).length).toBeGreaterThanOrEqual(1);
    }), { seed: SEED, numRuns: 100 });
  });
});
