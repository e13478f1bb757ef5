import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { SPEC_DIR, loadCorpusDir, loadScenarioFile, loadSelftests, loadSpec, scenarioToYaml } from '../../../specs/load.ts';
import { checkScenarioRefs, parseScenario } from '../../../specs/scenarioSchema.ts';
import { parseVersionRange, versionInRange } from '../../../specs/versionRange.ts';
import { OP_KINDS } from '../../../specs/vocabulary.ts';
import { errorOf } from '../../helpers/errorOf.ts';

/** The authoritative rule ids (the project's rules table). */
const RULE_IDS = [
  'per_cpu_ptr.unchecked_result',
  'kfunc.absent', 'kfunc.prog_type', 'kfunc.non_gpl', 'percpu_obj_new.size_limit', 'percpu_obj_new.not_scalars',
  'percpu_obj_new.special_fields', 'percpu_obj_drop.maybe_null', 'percpu_obj_drop.unreferenced',
  'percpu_obj_drop.wrong_kind', 'obj_drop.wrong_kind', 'kptr_xchg.type_mismatch', 'kptr_xchg.plain_into_percpu',
  'kptr_xchg.bad_src', 'kptr_xchg.rcu_src', 'kptr.direct_store', 'percpu_ptr.bad_arg', 'percpu.direct_deref', 'mem.maybe_null_deref',
  'mem.scalar_deref', 'rcu.nested_lock', 'rcu.unmatched_unlock', 'rcu.exit_locked', 'ref.leak',
  'percpu_obj_new.nested_special_field', 'mem.untrusted_write', 'attach.not_sleepable', 'kptr_xchg.no_kptr',
  'local_storage.untrusted_owner', 'local_storage.prog_type', 'helper.gpl_only',
];

describe('the real spec', () => {
  const spec = loadSpec();

  it('has exactly the authoritative rules, one contract per op kind, seven kernel rows', () => {
    expect(spec.rules.map((r) => r.id).sort()).toEqual([...RULE_IDS].sort());
    expect(spec.ops.map((o) => o.op)).toEqual([...OP_KINDS]);
    expect(spec.kernels.map((k) => k.version)).toEqual(['6.1', '6.7', '6.8', '6.12', '6.18', '7.0', '7.3']);
    expect(spec.divergences.map((d) => d.id).sort()).toEqual(['array_update_keeps_percpu_kptr', 'htab_delete_keeps_percpu_kptr', 'htab_lock_update_keeps_percpu_kptr', 'lru_evict_keeps_percpu_kptr', 'maybe_null_obj_xchg_src_verifier_bug', 'maybe_null_percpu_xchg_src_verifier_bug', 'nested_special_field_accepted', 'per_cpu_ptr_result_not_maybe_null', 'percpu_obj_new_uncleared', 'plain_obj_into_percpu', 'rcu_alloc_xchg_src_verifier_bug', 'untrusted_alloc_read_verifier_bug', 'untrusted_alloc_write_verifier_bug']);
  });

  it('gives 6.1 messages only to the rules it can show (no per-CPU kptr there), all but kptr_xchg.no_kptr one for 6.12, and but rcu.nested_lock and local_storage.prog_type too for 7.3', () => {
    for (const rule of spec.rules) {
      for (const m of rule.messages) expect(() => parseVersionRange(m.kernels)).not.toThrow();
      expect(rule.messages.some((m) => versionInRange('6.1.0', m.kernels)), rule.id)
        .toBe(['kfunc.absent', 'mem.scalar_deref', 'percpu_ptr.bad_arg', 'attach.not_sleepable', 'kptr_xchg.no_kptr', 'local_storage.prog_type', 'helper.gpl_only'].includes(rule.id));
      // a field tagged __percpu_kptr or __kptr is a kptr from 6.7 on: bpf_kptr_xchg always finds one
      expect(rule.messages.some((m) => versionInRange('6.12.117', m.kernels)), rule.id).toBe(rule.id !== 'kptr_xchg.no_kptr');
      // nesting bpf_rcu_read_lock is allowed from 7.0, and tc programs have bpf_task_storage_get from 6.18, so those rules have no message there
      expect(rule.messages.some((m) => versionInRange('7.3.4', m.kernels)), rule.id).toBe(!['rcu.nested_lock', 'kptr_xchg.no_kptr', 'local_storage.prog_type'].includes(rule.id));
    }
  });

  it('marks the plain-into-percpu divergence host-unsafe on the measured kernels only', () => {
    const d = spec.divergences.find((x) => x.id === 'plain_obj_into_percpu')!;
    expect([d.kind !== 'value' && d.rule, d.kernels, d.hostUnsafe]).toEqual(['kptr_xchg.plain_into_percpu', '>=6.18 <7.3', true]);
  });
});

describe('the built-in selftests', () => {
  const spec = loadSpec();
  const cases = loadSelftests(undefined, spec);

  it('loads every case of the four files', () => {
    const bySource = (prefix: string) => cases.filter((c) => c.source.startsWith(prefix)).length;
    expect(cases.length).toBe(57);
    expect(bySource('measured:')).toBe(7);
    expect(bySource('upstream:progs/percpu_alloc_array.c')).toBe(2);
    expect(bySource('upstream:progs/percpu_alloc_fail.c')).toBe(9);
    expect(bySource('ground-truth:')).toBe(39);
  });

  it('covers every measured ground-truth case but 10 and 37', () => {
    const measured = new Set(cases.filter((c) => c.source.startsWith('ground-truth:')).map((c) => c.source.slice(13, 15)));
    const want = Array.from({ length: 36 }, (_, i) => String(i + 1).padStart(2, '0')).filter((n) => n !== '10');
    expect([...measured].sort()).toEqual(want);
  });

  it('keeps the measured runtime values of the sequences', () => {
    for (const id of ['percpu_alloc_array', 'percpu_alloc_array_sleepable', 'gt33_seq_array', 'gt34_seq_hash', 'gt35_seq_percpu_array', 'gt36_seq_global_bss']) {
      expect(cases.find((c) => c.scenario.id === id)?.expect.globals).toEqual({ cpu0_field_d: '2', sum_field_c: '1' });
    }
  });

  it.each(cases.map((c) => [c.scenario.id, c] as const))('%s passes parseScenario and checkScenarioRefs', (_id, c) => {
    expect(parseScenario(JSON.parse(JSON.stringify(c.scenario)), c.scenario.id)).toEqual(c.scenario);
    expect(checkScenarioRefs(c.scenario)).toEqual([]);
  });

  it.each(cases.map((c) => [c.scenario.id, c] as const))('%s has an expectation for every program on 6.1, 6.12, 6.18 and 7.3', (_id, c) => {
    for (const p of c.scenario.programs) {
      for (const v of ['6.1.0', '6.12.117', '6.18.44', '7.3.4']) {
        expect(c.expect.programs.some((e) => e.program === p.name && versionInRange(v, e.kernels)), `${p.name} on ${v}`).toBe(true);
      }
    }
  });

  it('round-trips every scenario through scenarioToYaml and loadScenarioFile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kptr-roundtrip-'));
    try {
      for (const c of cases) {
        const file = join(dir, `${c.scenario.id}.yaml`);
        writeFileSync(file, scenarioToYaml(c.scenario));
        expect(loadScenarioFile(file)).toEqual(c.scenario);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes each op without nested ops on one line, and quotes the string "null"', () => {
    const text = scenarioToYaml(cases.find((c) => c.scenario.id === 'gt01_ok_baseline')!.scenario);
    expect(text).toContain('      - { op: xchg, slot: array, src: p, dst: p }\n');
    expect(text).toContain('      - op: if\n        var: p\n        is: "null"\n        then:\n          - { op: return, value: 0 }\n');
  });
});


describe('malformed spec files', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kptr-spec-'));
    cpSync(SPEC_DIR, dir, { recursive: true, filter: (src) => !src.endsWith('.ts') });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const edit = (rel: string, change: (v: any) => void): void => {
    const file = join(dir, rel);
    const value = parse(readFileSync(file, 'utf8'), { maxAliasCount: -1 });
    change(value);
    writeFileSync(file, stringify(value));
  };

  it('loads the unmodified copy', () => {
    expect(loadSpec(dir).rules.length).toBe(RULE_IDS.length);
  });

  it('names file, line and column of a YAML syntax error', () => {
    writeFileSync(join(dir, 'rules', 'ref.leak.yaml'), 'id: ref.leak\ngroup: [I\ntitle: x\n');
    const e = errorOf(() => loadSpec(dir));
    expect(e.code).toBe('KPTR_SPEC_INVALID');
    expect(e.oneLine()).toBe(`KPTR_SPEC_INVALID: ${dir}/rules/ref.leak.yaml:3:1: Flow sequence in block collection must be sufficiently indented and end with a ] — fix that file so it matches its schema in specs/schema/ (the other files in specs/ are examples)`);
  });

  it('names the YAML path of a wrong type deep in a rule', () => {
    edit('rules/ref.leak.yaml', (v) => { v.messages[1].lines = 'Unreleased reference'; });
    expect(errorOf(() => loadSpec(dir)).message).toBe(`${dir}/rules/ref.leak.yaml: messages[1].lines: expected a list, got string "Unreleased reference"`);
  });

  it('refuses a message range that does not parse', () => {
    edit('rules/rcu.exit_locked.yaml', (v) => { v.messages[0].kernels = '>= 6.7'; });
    expect(errorOf(() => loadSpec(dir)).message).toBe(`${dir}/rules/rcu.exit_locked.yaml: messages[0].kernels: expected a version range like ">=6.8 <7.0", "=6.18" or "*", got string ">= 6.7" ('>=' is not a comparator like >=6.8, <7.0 or =6.18)`);
  });

  it('refuses an undeclared message param', () => {
    edit('rules/kptr.direct_store.yaml', (v) => { v.messages[0].lines = ['store to ${struct} disallowed']; });
    expect(errorOf(() => loadSpec(dir)).message).toBe(`${dir}/rules/kptr.direct_store.yaml: messages[0].lines[0]: expected only the declared params (none), got \${struct}`);
  });

  it('refuses a rule whose id is not its file name', () => {
    edit('rules/ref.leak.yaml', (v) => { v.id = 'ref.leaks'; });
    expect(errorOf(() => loadSpec(dir)).message).toBe(`${dir}/rules/ref.leak.yaml: id: expected 'ref.leak' (the file name), got 'ref.leaks'`);
  });

  it('refuses a divergence naming an unknown rule', () => {
    edit('divergences/plain_obj_into_percpu.yaml', (v) => { v.rule = 'kptr_xchg.nope'; });
    expect(errorOf(() => loadSpec(dir)).message).toBe(`${dir}/divergences/plain_obj_into_percpu.yaml: rule: expected an existing rule id, got 'kptr_xchg.nope'`);
  });

  it('loads a contract for every lifetime step, and refuses a misnamed or missing one', () => {
    expect(loadSpec(dir).lifetimes.map((c) => [c.step, c.memory === null])).toEqual([['grace_period', true], ['free_maps', false], ['concurrent', true], ['owner_exit', false]]);
    edit('ops/lifetime/free_maps.yaml', (v) => { v.step = 'grace_period'; });
    expect(errorOf(() => loadSpec(dir)).message).toBe(`${dir}/ops/lifetime/free_maps.yaml: step: expected 'free_maps' (the file name), got 'grace_period'`);
    unlinkSync(join(dir, 'ops', 'lifetime', 'free_maps.yaml'));
    expect(errorOf(() => loadSpec(dir)).message).toBe(`${dir}/ops/lifetime/free_maps.yaml: missing: every schedule step kind of types/scenario.ts LifetimeStepKind needs a contract`);
  });

  it('refuses an op contract naming an unknown rule, and a missing contract', () => {
    edit('ops/store.yaml', (v) => { v.rules = ['kptr.direct_store', 'kptr.nope']; });
    expect(errorOf(() => loadSpec(dir)).message).toBe(`${dir}/ops/store.yaml: rules[1]: expected an existing rule id, got 'kptr.nope'`);
    edit('ops/store.yaml', (v) => { v.rules = []; });
    unlinkSync(join(dir, 'ops', 'sum.yaml'));
    expect(errorOf(() => loadSpec(dir)).message).toBe(`${dir}/ops/sum.yaml: missing: every op kind of types/scenario.ts needs a contract`);
  });

  it('refuses a kernel row with a missing feature and rows out of order', () => {
    edit('kernels.yaml', (v) => { delete v.kernels[4].features.nested_rcu_lock; });
    expect(errorOf(() => loadSpec(dir)).message).toBe(`${dir}/kernels.yaml: kernels[4].features.nested_rcu_lock: expected true or false, got nothing`);
    edit('kernels.yaml', (v) => { v.kernels[4].features.nested_rcu_lock = false; v.kernels[4].version = '6.10'; });
    expect(errorOf(() => loadSpec(dir)).message).toBe(`${dir}/kernels.yaml: kernels[4].version: expected a version above 6.12 (rows ascend), got '6.10'`);
  });

  it('refuses a selftest case with an unknown divergence or a bad nested op', () => {
    const spec = loadSpec(dir);
    const selftests = join(dir, 'selftests');
    edit('selftests/ground_truth.yaml', (v) => { v.cases[1].divergences = ['nope']; });
    expect(errorOf(() => loadSelftests(selftests, spec)).message).toBe(`${dir}/selftests/ground_truth.yaml: cases[1].divergences[0]: expected an existing divergence id, got 'nope'`);
    edit('selftests/ground_truth.yaml', (v) => { v.cases[1].divergences = []; v.cases[0].scenario.programs[0].ops[4].then[0].percpu = 'yes'; });
    expect(errorOf(() => loadSelftests(selftests, spec)).message).toBe(`${dir}/selftests/ground_truth.yaml: cases[0].scenario.programs[0].ops[4].then[0].percpu: expected true or false, got string "yes"`);
  });

  it('refuses a selftest case whose scenario references do not resolve', () => {
    edit('selftests/percpu_alloc_array.yaml', (v) => { v.cases[0].scenario.schedule[0].program = 'test_array_map_9'; });
    expect(errorOf(() => loadSelftests(join(dir, 'selftests'), loadSpec(dir))).message).toBe(`${dir}/selftests/percpu_alloc_array.yaml: cases[0].scenario: expected consistent references, got schedule[0].program: no program 'test_array_map_9'`);
  });

  it('reports a scenario file with the scenario code', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'id: s1\ndescription: x\norigin: null\nintent: {kind: valid}\nstructs: []\nslots: []\nglobals: []\nprograms: []\nschedule: [{program: p, cpu: 1, repeat: 1, extra: 2}]\n');
    const e = errorOf(() => loadScenarioFile(file));
    expect(e.oneLine()).toBe(`KPTR_SCENARIO_INVALID: ${file}: schedule[0].extra: expected no such key (allowed: program, cpu, repeat), got number 2 — fix the scenario file so it matches specs/schema/scenario.schema.json`);
    writeFileSync(file, 'id: s1\nid: s2\n');
    expect(errorOf(() => loadScenarioFile(file)).message).toBe(`${file}:2:1: Map keys must be unique`);
  });
});

describe('untrusted scenario files (loadScenarioFile, loadCorpus)', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kptr-untrusted-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const GOOD = 'id: s1\ndescription: x\norigin: null\nintent: {kind: valid}\nstructs: [{name: val_t, members: [{kind: scalar, name: c, ctype: __u64, count: null}]}]\nslots: []\nglobals: []\n'
    + 'programs: [{name: p0, progType: tc, license: GPL, vars: [{name: v, type: {kind: plain, struct: val_t}}], ops: [{op: new, dst: v, struct: val_t, percpu: false}, {op: if, var: v, is: nonnull, then: [{op: drop, var: v, percpu: false}]}]}]\n'
    + 'schedule: [{program: p0, cpu: 0, repeat: 1}]\n';
  const write = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const problem = (text: string): string => {
    const file = write('s.yaml', text);
    const e = errorOf(() => loadScenarioFile(file));
    expect(e.code).toBe('KPTR_SCENARIO_INVALID');
    return e.message.slice(file.length + 2);
  };

  it('loads a good file', () => {
    expect(loadScenarioFile(write('s.yaml', GOOD)).id).toBe('s1');
  });

  it('refuses a YAML alias bomb in a few milliseconds', () => {
    // 4.4 KB that expands to 10^9 values: each level's list holds ten aliases of the level below
    const levels = Array.from({ length: 9 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array.from({ length: 10 }, () => `*l${i}`).join(', ')}]`);
    const bomb = `${GOOD}l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n${levels.join('\n')}\n`;
    const started = Date.now();
    expect(problem(bomb)).toBe('expected at most 200000 values nested at most 64 deep once aliases are expanded, got more');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('counts a large node once per alias, and an alias as the latest anchor of its name before it', () => {
    const big = `[${Array.from({ length: 30_000 }, (_, i) => i).join(', ')}]`;
    expect(problem(`${GOOD}big: &b ${big}\nx: [${Array(7).fill('*b').join(', ')}]\n`)).toBe('expected at most 200000 values nested at most 64 deep once aliases are expanded, got more');
    // the same aliases after `b` names a scalar: within the limits, so the schema speaks (an unknown key)
    expect(problem(`${GOOD}big: &b ${big}\nsmall: &b 1\nx: [${Array(7).fill('*b').join(', ')}]\n`)).toBe('big: expected no such key (allowed: id, description, origin, intent, structs, slots, globals, programs, schedule), got a list');
  });

  it('refuses nesting deeper than 64 levels, in any YAML syntax', () => {
    expect(problem(`${GOOD}x: ${'['.repeat(70)}${']'.repeat(70)}\n`)).toBe('expected at most 200000 values nested at most 64 deep once aliases are expanded, got more');
    expect(problem(`${GOOD}x:\n  ${'- '.repeat(70)}y\n`)).toBe('expected at most 200000 values nested at most 64 deep once aliases are expanded, got more');
    // far deeper than the YAML parser's own recursion: still one line
    const file = write('deep.yaml', `${'- '.repeat(100_000)}y\n`);
    expect(errorOf(() => loadScenarioFile(file)).message).toMatch(/^\S+deep\.yaml:1:\d+: Maximum call stack size exceeded$/);
  });

  it('refuses a file over 1 MiB and anything but a regular file', () => {
    expect(problem(`${GOOD}# ${'x'.repeat(1 << 20)}\n`)).toMatch(/^expected at most 1048576 bytes, got \d+$/);
    expect(errorOf(() => loadScenarioFile('/dev/zero')).message).toBe('/dev/zero: expected a regular file');
    expect(errorOf(() => loadScenarioFile(dir)).message).toBe(`${dir}: expected a regular file`);
  });

  it.each<[string, (s: string) => string, string]>([
    ['a schedule step naming a missing program', (s) => s.replace('program: p0, cpu', 'program: p9, cpu'), "schedule[0].program: no program 'p9'"],
    ['an undeclared variable', (s) => s.replace('{op: drop, var: v,', '{op: drop, var: w,'), "programs[0].ops[1].then[0].var: variable 'w' is not declared in the program's vars"],
    ['a duplicate name', (s) => s.replace('globals: []', 'globals: [{name: p0, ctype: int}]'), "programs[0].name: duplicate identifier 'p0' (first at globals[0].name)"],
    ['a value above 2^64-1', (s) => s.replace('then: [{op: drop', "then: [{op: write, ptr: v, field: c, value: '18446744073709551616'}, {op: drop"), 'programs[0].ops[1].then[0].value: expected a decimal integer in [-2^63, 2^64-1] as a string, got string "18446744073709551616"'],
    ['a repeat of 2^53-1', (s) => s.replace('repeat: 1', 'repeat: 9007199254740991'), 'schedule[0].repeat: expected a repeat count in [1, 1000], got number 9007199254740991'],
  ])('refuses %s with file, YAML path and what was expected', (_what, change, message) => {
    expect(problem(change(GOOD))).toBe(message);
  });

  it('says how many more reference problems there are', () => {
    expect(problem(GOOD.replace('program: p0, cpu', 'program: p9, cpu').replace('{op: drop, var: v,', '{op: drop, var: w,'))).toMatch(/ \(and 1 more\)$/);
  });

  it('loads a corpus directory in name order, and refuses a missing one, a file, and duplicate ids', () => {
    write('b.yaml', GOOD.replace('id: s1', 'id: s2'));
    write('a.yaml', GOOD);
    write('notes.txt', 'not a scenario');
    expect(loadCorpusDir(dir).map((s) => s.id)).toEqual(['s1', 's2']);
    expect(errorOf(() => loadCorpusDir(join(dir, 'nope'))).oneLine()).toBe(`KPTR_USAGE: ${dir}/nope: cannot list the directory: ENOENT — pass a directory of scenario .yaml files (specs/regressions/ is one)`);
    expect(errorOf(() => loadCorpusDir(join(dir, 'a.yaml'))).message).toBe(`${dir}/a.yaml: expected a directory`);
    write('c.yaml', GOOD);
    expect(errorOf(() => loadCorpusDir(dir)).message).toBe(`${dir}/c.yaml: id: expected an id no other corpus entry has, got 's1' (also in ${dir}/a.yaml)`);
  });

  it('reads back a written scenario whatever its description holds', () => {
    const s = loadScenarioFile(write('s.yaml', GOOD));
    const anyText = fc.oneof(fc.string({ unit: 'binary', minLength: 1 }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), minLength: 1 }));
    fc.assert(fc.property(anyText, (description) => {
      const file = write('t.yaml', scenarioToYaml({ ...s, description }));
      expect(loadScenarioFile(file).description).toBe(description);
    }), { numRuns: 300 });
  });

  it('writes scenario files without anchors, even when the scenario shares objects', () => {
    const s = loadScenarioFile(write('s.yaml', GOOD));
    const shared = { ...s, schedule: [s.schedule[0]!, s.schedule[0]!] };
    const text = scenarioToYaml(shared);
    expect(text).not.toMatch(/[&*]\w/);
    expect(loadScenarioFile(write('t.yaml', text))).toEqual(shared);
  });
});
