import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { matchSchema } from '../../../specs/matchSchema.ts';
import { checkScenarioRefs, parseScenario } from '../../../specs/scenarioSchema.ts';
import { ShapeError } from '../../../specs/shape.ts';
import { FEATURE_NAMES, MAP_TYPES, MESSAGE_PARAMS, OP_KINDS, PROG_TYPES, SCALAR_CTYPES } from '../../../specs/vocabulary.ts';
import { bpfClangArgs, CLANG } from '../../../compile/codegen/compileBpf.ts';
import { errorOf } from '../../helpers/errorOf.ts';

const schema = (name: string): any => JSON.parse(readFileSync(new URL(`../../../specs/schema/${name}.schema.json`, import.meta.url), 'utf8'));

/** A minimal valid scenario with one program and one schedule step, to change one thing in. */
function minimal(): any {
  return {
    id: 'm1', description: 'minimal', origin: null, intent: { kind: 'valid' },
    structs: [{ name: 'val_t', members: [{ kind: 'scalar', name: 'c', ctype: '__u64', count: null }] }],
    slots: [], globals: [{ name: 'total', ctype: '__u64' }],
    programs: [{ name: 'p0', progType: 'tc', license: 'GPL', vars: [{ name: 'v', type: { kind: 'plain', struct: 'val_t' } }], ops: [{ op: 'new', dst: 'v', struct: 'val_t', percpu: false }, { op: 'if', var: 'v', is: 'nonnull', then: [{ op: 'write', ptr: 'v', field: 'c', value: '1' }, { op: 'drop', var: 'v', percpu: false }] }] }],
    schedule: [{ program: 'p0', cpu: 0, repeat: 1 }],
  };
}

function refused(change: (s: any) => void): string {
  const s = minimal();
  change(s);
  return errorOf(() => parseScenario(s, 'x.yaml')).message;
}

describe('the JSON schemas of specs/schema/', () => {
  it('should list exactly the vocabularies of types/ (checked by the compiler in specs/vocabulary.ts)', () => {
    const s = schema('scenario');
    expect(s.definitions.op.oneOf.map((o: any) => o.properties.op.const)).toEqual([...OP_KINDS]);
    expect(s.definitions.program.properties.progType.enum).toEqual([...PROG_TYPES]);
    expect(s.properties.slots.items.properties.home.oneOf[0].properties.mapType.enum).toEqual([...MAP_TYPES]);
    expect([...s.definitions.scalarCType.enum].sort()).toEqual([...SCALAR_CTYPES].sort());
    expect(Object.keys(schema('kernels').properties.kernels.items.properties.features.properties)).toEqual([...FEATURE_NAMES]);
    expect(schema('rule').properties.params.items.enum).toEqual([...MESSAGE_PARAMS]);
    expect(schema('op').properties.op.enum).toEqual([...OP_KINDS]);
  });

  // every generated scenario validates: test/unit/generators/scenario.spec.ts ('every scenario parses, resolves and round-trips')

  it('should refuse, as a name, every identifier the generated C and its headers define', async () => {
    // what kptr.h (and the libbpf and uapi headers it includes) put in scope: macros, tags, typedefs, enumerators, functions
    const header = new URL('../../../compile/codegen/kptr.h', import.meta.url).pathname;
    const args = bpfClangArgs(header, join(tmpdir(), 'unused.o'), tmpdir()).filter((a) => a.startsWith('-I'));
    const macros = (await execa(CLANG, ['-target', 'bpf', ...args, '-E', '-dM', header])).stdout.split('\n').map((l) => l.split(/\s+/)[1]?.replace(/\(.*/, '') ?? '');
    const pp = (await execa(CLANG, ['-target', 'bpf', ...args, '-E', header])).stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n');
    const declared = [
      ...[...pp.matchAll(/\b(?:struct|union|enum)\s+([A-Za-z_]\w*)/g)].map((m) => m[1]!),
      ...[...pp.matchAll(/typedef[^;{]*?\b([A-Za-z_]\w*)\s*;/g)].map((m) => m[1]!),
      ...[...pp.matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*[=,]/gm)].map((m) => m[1]!),
      ...[...pp.matchAll(/^extern[^(;]*?\b([A-Za-z_]\w*)\s*\(/gm)].map((m) => m[1]!),
      ...[...pp.matchAll(/\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*\(/g)].map((m) => m[1]!),
    ];
    const names = [...new Set([...macros, ...declared, 'nr_cpus', '_license'])].filter((n) => /^[A-Za-z_]\w*$/.test(n));
    expect(names.length).toBeGreaterThan(500);
    const accepted = names.filter((name) => {
      const s = minimal();
      s.globals[0].name = name;
      try {
        matchSchema('scenario', s);
        return true;
      } catch (e) {
        expect(e).toBeInstanceOf(ShapeError);
        return false;
      }
    });
    expect(accepted).toEqual([]);
  });
});

describe('scenario limits', () => {
  it.each<[string, (s: any) => void, string]>([
    ['a huge repeat', (s) => { s.schedule[0].repeat = 9007199254740991; }, 'schedule[0].repeat: expected a repeat count in [1, 1000], got number 9007199254740991'],
    ['repeat 1001', (s) => { s.schedule[0].repeat = 1001; }, 'schedule[0].repeat: expected a repeat count in [1, 1000], got number 1001'],
    ['a CPU index past 4095', (s) => { s.schedule[0].cpu = 4096; }, 'schedule[0].cpu: expected a CPU index in [0, 4095], got number 4096'],
    ['a value of 2^64', (s) => { s.programs[0].ops[1].then[0].value = '18446744073709551616'; }, 'programs[0].ops[1].then[0].value: expected a decimal integer in [-2^63, 2^64-1] as a string, got string "18446744073709551616"'],
    ['a value below -2^63', (s) => { s.programs[0].ops[1].then[0].value = '-9223372036854775809'; }, 'programs[0].ops[1].then[0].value: expected a decimal integer in [-2^63, 2^64-1] as a string, got string "-9223372036854775809"'],
    ['1025 ops', (s) => { s.programs[0].ops = Array.from({ length: 1025 }, () => ({ op: 'rcu_lock' })); }, 'programs[0].ops: expected a list of at most 1024 items, got 1025 items'],
    ['1025 schedule steps', (s) => { s.schedule = Array.from({ length: 1025 }, () => s.schedule[0]); }, 'schedule: expected a list of at most 1024 items, got 1025 items'],
    ['a 4097-character description', (s) => { s.description = 'x'.repeat(4097); }, 'description: expected at most 4096 characters, got 4097 characters'],
    ['a 129-character name', (s) => { s.programs[0].name = 'p'.repeat(129); s.schedule[0].program = s.programs[0].name; }, 'programs[0].name: expected at most 128 characters, got 129 characters'],
    ['a codegen name', (s) => { s.globals[0].name = 'nr_cpus'; }, 'globals[0].name: expected a C identifier (not a keyword, nor a name the generated C or its headers define), got string "nr_cpus"'],
    ['a reserved C prefix', (s) => { s.programs[0].vars[0].name = '__kc_key'; }, 'programs[0].vars[0].name: expected a C identifier (not a keyword, nor a name the generated C or its headers define), got string "__kc_key"'],
    ['a libbpf macro', (s) => { s.structs[0].name = 'SEC'; }, 'structs[0].name: expected a C identifier (not a keyword, nor a name the generated C or its headers define), got string "SEC"'],
    ['a description with no text', (s) => { s.description = ''; }, 'description: expected free text of at most 4096 characters, got string ""'],
  ])('should refuse %s', (_what, change, message) => {
    expect(refused(change)).toBe(`x.yaml: ${message}`);
  });

  it('should take the extreme values it allows', () => {
    const s = minimal();
    s.programs[0].ops[1].then[0].value = '18446744073709551615';
    s.schedule[0] = { program: 'p0', cpu: 4095, repeat: 1000 };
    expect(parseScenario(s, 'x').schedule[0]).toEqual({ program: 'p0', cpu: 4095, repeat: 1000 });
    expect(parseScenario({ ...minimal(), programs: [{ ...minimal().programs[0], ops: [{ op: 'write', ptr: 'v', field: 'c', value: '-9223372036854775808' }] }] }, 'x')).toBeTruthy();
  });
});

describe('grace-period schedule steps', () => {
  it('should take { grace_period: true } between run steps, and no program has to match it', () => {
    const s = minimal();
    s.schedule = [s.schedule[0], { grace_period: true }, { ...s.schedule[0], repeat: 2 }];
    const parsed = parseScenario(s, 'x');
    expect(parsed.schedule[1]).toEqual({ grace_period: true });
    expect(checkScenarioRefs(parsed)).toEqual([]);
  });

  it.each<[string, unknown, string]>([
    ['grace_period false', { grace_period: false }, 'schedule[1].grace_period: expected true, got boolean false'],
    ['grace_period as a string', { grace_period: 'yes' }, 'schedule[1].grace_period: expected true, got string "yes"'],
    ['a grace period with a cpu', { grace_period: true, cpu: 0 }, 'schedule[1].cpu: expected no such key (allowed: grace_period), got number 0'],
    ['a run step with a grace_period key', { program: 'p0', cpu: 0, repeat: 1, grace: true }, 'schedule[1].grace: expected no such key (allowed: program, cpu, repeat), got boolean true'],
  ])('should refuse %s with one line naming the key', (_what, step, message) => {
    expect(refused((s) => { s.schedule.push(step); })).toBe(`x.yaml: ${message}`);
  });

  it('should let a schedule hold at most 64 grace periods (each costs the runner two synchronize_rcu)', () => {
    const withGracePeriods = (n: number): unknown => {
      const s = minimal();
      s.schedule = [s.schedule[0], ...Array.from({ length: n }, () => ({ grace_period: true }))];
      return s;
    };
    expect(checkScenarioRefs(parseScenario(withGracePeriods(64), 'x'))).toEqual([]);
    expect(checkScenarioRefs(parseScenario(withGracePeriods(65), 'x'))).toEqual(['schedule: 65 grace_period steps, at most 64 allowed']);
  });
});

describe('spec schemas refuse what the hand-written readers refused', () => {
  const spec = (name: 'divergence' | 'selftests', value: unknown): string => {
    try {
      matchSchema(name, value);
    } catch (e) {
      expect(e).toBeInstanceOf(ShapeError);
      return (e as ShapeError).message;
    }
    return 'accepted';
  };
  const divergence = (over: Record<string, unknown>): unknown => ({
    id: 'd1', rule: 'ref.leak', kernels: '>=6.18', kind: 'accepts_invalid', reason: 'r', hostUnsafe: false, splat: false, evidence: 'e',
    probe: { case: 'gt16', program: 'p0', verdict: 'accepted', msgs: [] }, ...over,
  });
  const expectation = (over: Record<string, unknown>): unknown => ({
    cases: [{ scenario: minimal(), source: 'measured:x', divergences: [], expect: { globals: {}, programs: [{ program: 'p0', kernels: '*', verdict: 'accepted', msgs: [], ...over }] } }],
  });

  it('should take a verifier divergence with its load-only probe, and a value divergence without one', () => {
    expect(spec('divergence', divergence({}))).toBe('accepted');
    expect(spec('divergence', divergence({ probe: { case: 'gt16', program: 'p0', verdict: 'rejected', msgs: ['invalid kptr access'] } }))).toBe('accepted');
    expect(spec('divergence', divergence({ kind: 'value', rule: undefined, op: 'new', probe: undefined }))).toBe('accepted');
  });

  it.each<[string, unknown, string]>([
    ['a value divergence naming a rule', divergence({ kind: 'value', op: 'new', probe: undefined }), 'rule: expected no rule for a value divergence (it names an op), got string "ref.leak"'],
    ['a rule divergence naming an op', divergence({ op: 'new' }), 'op: expected no op for a divergence of this kind (it names a rule), got string "new"'],
    ['a value divergence without its op', divergence({ kind: 'value', rule: undefined, probe: undefined }), 'op: expected one of lookup, new, if, xchg, drop, load, store, per_cpu_ptr, this_cpu_ptr, write, read, sum, rcu_lock, rcu_unlock, return, got nothing'],
    ['a verifier divergence without a probe', divergence({ probe: undefined }), 'probe: expected a value, got nothing'],
    ['a value divergence with a probe', divergence({ kind: 'value', rule: undefined, op: 'new' }), 'probe: expected no probe for a value divergence (probes only verify), got a mapping'],
    ['a probe that shows neither verdict', divergence({ probe: { case: 'gt16', program: 'p0', verdict: 'maybe', msgs: [] } }), 'probe.verdict: expected one of accepted, rejected, got string "maybe"'],
    ['a probe of a rejection without messages', divergence({ probe: { case: 'gt16', program: 'p0', verdict: 'rejected', msgs: [] } }), 'probe.msgs: expected at least one message for a rejection, got 0 items'],
    ['a version range that does not parse', divergence({ kernels: '>= 6.7' }), `kernels: expected a version range like ">=6.8 <7.0", "=6.18" or "*", got string ">= 6.7" ('>=' is not a comparator like >=6.8, <7.0 or =6.18)`],
  ])('should refuse %s', (_what, value, message) => {
    expect(spec('divergence', JSON.parse(JSON.stringify(value)))).toBe(message);
  });

  it('should want messages exactly for a rejection', () => {
    expect(spec('selftests', expectation({ verdict: 'accepted', msgs: ['x'] }))).toBe('cases[0].expect.programs[0].msgs: expected no messages for an acceptance, got 1 items');
    expect(spec('selftests', expectation({ verdict: 'rejected', msgs: [] }))).toBe('cases[0].expect.programs[0].msgs: expected at least one message for a rejection, got 0 items');
    expect(spec('selftests', expectation({ verdict: 'rejected', msgs: ['R1 invalid mem access'] }))).toBe('accepted');
  });
});
