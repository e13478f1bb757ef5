import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KptrError } from '../../../../errors/KptrError.ts';
import { emitBatch, emitReproducer } from '../../../../compile/codegen/emit.ts';
import type { Scenario } from '../../../../types/index.ts';
import { btfTypes, compileWithDiagnostics, type BtfType } from './clangOutput.helper.ts';
import { percpuAllocArray } from './percpuAllocArray.fixture.ts';
import { testLoaderSpec } from './testLoaderSpec.helper.ts';
import { allOpsScenario, handScenario } from './scenarios.fixture.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kptr-codegen-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const byId = (types: readonly BtfType[], id: number | undefined): BtfType | undefined => types.find((t) => t.id === id);
const named = (types: readonly BtfType[], kind: string, name: string): BtfType[] =>
  types.filter((t) => t.kind === kind && t.name === name);

/** The type behind member `member` of struct `struct`, following PTR and TYPE_TAG: [tag, pointee]. */
function kptrField(types: readonly BtfType[], struct: string, member: string): { tag: string | undefined; pointee: BtfType | undefined } {
  const owner = named(types, 'STRUCT', struct)[0];
  const ptr = byId(types, owner?.members?.find((m) => m.name === member)?.type_id);
  const tag = byId(types, ptr?.type_id);
  return { tag: tag?.kind === 'TYPE_TAG' ? tag.name : undefined, pointee: byId(types, tag?.type_id) };
}

function assertInvalid(f: () => unknown, pattern: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KptrError);
    expect((e as KptrError).code).toBe('KPTR_SCENARIO_INVALID');
    expect((e as KptrError).message).toMatch(pattern);
    return;
  }
  expect.fail('expected KPTR_SCENARIO_INVALID');
}

describe('emitBatch', () => {
  it('should compile every op form, home and member kind without a clang warning', async () => {
    const { source } = emitBatch([allOpsScenario('x1')]);
    const { stderr } = await compileWithDiagnostics(source, dir, 'allops');
    expect(stderr).toBe('');
  });

  it('should tag the slot field percpu_kptr and make every pointee a full STRUCT', async () => {
    const { object } = await compileWithDiagnostics(emitBatch([allOpsScenario('x2'), percpuAllocArray]).source, dir, 'btf');
    const types = await btfTypes(object);
    for (const [elem, tag, pointee] of [
      ['array_elem', 'percpu_kptr', 'val_t'],
      ['x2_s0_elem', 'percpu_kptr', 'x2_val'],
      ['x2_s4_elem', 'percpu_kptr', 'x2_val'],
      ['x2_k_elem', 'kptr', 'x2_special'],
    ] as const) {
      const field = kptrField(types, elem, 'pc');
      expect(field.tag, elem).toBe(tag);
      expect(field.pointee?.kind, elem).toBe('STRUCT');
      expect(field.pointee?.name, elem).toBe(pointee);
    }
    expect(kptrField(types, 'x2_special', 'k')).toMatchObject({ tag: 'kptr', pointee: { kind: 'STRUCT', name: 'x2_val' } });
    expect(types.filter((t) => t.kind === 'FWD').map((t) => t.name)).toEqual([]);
  });

  it('should keep anchors and kptr globals out of the mmapable .bss', async () => {
    const { object } = await compileWithDiagnostics(emitBatch([allOpsScenario('x3')]).source, dir, 'sections');
    const types = await btfTypes(object);
    const varNames = (section: string): string[] =>
      (named(types, 'DATASEC', section)[0]?.vars ?? []).map((v) => byId(types, v.type_id)?.name ?? '?');
    // plain .bss holds exactly the result globals the harness reads through the mmap
    expect(varNames('.bss').sort()).toEqual(['x3_g64', 'x3_g8']);
    // libbpf skips the unknown .anchors.* sections: no map, yet the structs are complete
    for (const struct of ['x3_inner', 'x3_special', 'x3_val']) {
      expect(varNames(`.anchors.${struct}`)).toEqual([`__anchor_${struct}`]);
    }
    // static in its own section: libbpf creates that map without BPF_F_MMAPABLE
    for (const [section, slot] of [['.bss.x3_s5', 'x3_s5'], ['.data.x3_s6', 'x3_s6']]) {
      expect(varNames(section!)).toEqual([slot]);
      expect(named(types, 'VAR', slot!)[0]?.linkage).toBe('static');
    }
    const { stdout } = await execa('llvm-readelf-16', ['-S', '-W', object]);
    expect(stdout).toMatch(/\.data\.x3_s6\s+PROGBITS/);
    expect(stdout).toMatch(/\.bss\.x3_s5\s+NOBITS/);
  });

  it('should compile the percpu_alloc_array selftest as four ?tc programs', async () => {
    const batch = emitBatch([percpuAllocArray]);
    expect(batch.programs.map((p) => p.program)).toEqual(['test_array_map_1', 'test_array_map_2', 'test_array_map_3', 'test_array_map_4']);
    const { object, stderr } = await compileWithDiagnostics(batch.source, dir, 'percpu_alloc_array');
    expect(stderr).toBe('');
    const { stdout } = await execa('llvm-readelf-16', ['-S', '-W', object]);
    expect(stdout).toContain(' ?tc ');
    expect(named(await btfTypes(object), 'FUNC', 'test_array_map_3')).toHaveLength(1);
  });

  it('should compile 200 scenarios in one clang run', async () => {
    const scenarios = Array.from({ length: 200 }, (_, i) => handScenario(i));
    const batch = emitBatch(scenarios);
    expect(batch.programs).toHaveLength(400);
    const start = performance.now();
    const { object, stderr } = await compileWithDiagnostics(batch.source, dir, 'batch200');
    console.log(`clang-16: 200 scenarios (400 programs) in ${(performance.now() - start).toFixed(0)} ms`);
    expect(stderr).toBe('');
    const funcs = (await btfTypes(object)).filter((t) => t.kind === 'FUNC').map((t) => t.name);
    expect(funcs).toEqual(expect.arrayContaining(['h0_store', 'h199_update']));
  });

  it('should reject scenarios that share an identifier', () => {
    const clash: Scenario = { ...handScenario(2), id: 'other' };
    assertInvalid(() => emitBatch([handScenario(2), clash]), /struct h2_val is also defined by scenario h2/);
    const sameGlobal: Scenario = { ...handScenario(3), globals: [{ name: 'h2_sum', ctype: 'int' }] };
    assertInvalid(() => emitBatch([handScenario(2), sameGlobal]), /h2_sum is also defined/);
  });

  it('should reject a batch that mixes licenses', () => {
    const s = handScenario(4);
    const proprietary: Scenario = { ...s, programs: s.programs.map((p) => ({ ...p, license: 'Proprietary' as const })) };
    assertInvalid(() => emitBatch([handScenario(5), proprietary]), /mixes licenses/);
  });

  it('should reject names the scenario does not define', () => {
    const s = percpuAllocArray;
    const withOps = (ops: Scenario['programs'][number]['ops']): Scenario => ({ ...s, programs: [{ ...s.programs[0]!, ops }] });
    assertInvalid(() => emitBatch([withOps([{ op: 'drop', var: 'nope', percpu: true }])]), /variable nope is not declared/);
    assertInvalid(() => emitBatch([withOps([{ op: 'load', slot: 'array', dst: 'p' }])]), /slot array is used before any lookup/);
    assertInvalid(
      () => emitBatch([withOps([{ op: 'lookup', slot: 'array', dst: 'e' }, { op: 'write', ptr: 'e', field: 'pc', value: '1' }])]),
      /only has the scalar field sum/,
    );
    const v: Scenario = { ...s, programs: [s.programs[1]!] };
    const badField = (field: string): Scenario => ({
      ...v,
      programs: [{ ...v.programs[0]!, ops: [{ op: 'write', ptr: 'v', field, value: '1' }] }],
    });
    assertInvalid(() => emitBatch([badField('zz')]), /struct val_t has no member zz/);
    assertInvalid(() => emitBatch([badField('c[1]')]), /indexes past member c/);
    const shadow: Scenario = { ...v, programs: [{ ...v.programs[0]!, vars: [...v.programs[0]!.vars, { name: 'array', type: { kind: 'plain', struct: 'val_t' } }] }] };
    assertInvalid(() => emitBatch([shadow]), /variable array shadows/);
  });
});

describe('emitReproducer', () => {
  it('should write test_loader annotations that compile into BTF decl tags', async () => {
    const source = emitReproducer(percpuAllocArray, [
      {
        program: 'test_array_map_2',
        description: 'percpu_kptr.direct_deref "quoted"',
        expect: { verdict: 'rejected', msgs: ['R1 type=percpu_ptr_ expected=', 'type={{[a-z_]+}}'] },
      },
      { program: 'test_array_map_1', description: 'accepted store', expect: { verdict: 'accepted', retval: 0 } },
      { program: 'test_array_map_4', description: 'accepted delete', expect: { verdict: 'accepted', retval: null } },
    ]);
    expect(source).toContain('SEC("?tc")\n__description("percpu_kptr.direct_deref \\"quoted\\"")\n__failure __msg("R1 type=percpu_ptr_ expected=") __msg("type={{[a-z_]+}}")\nint test_array_map_2(void *ctx)');
    expect(source).toContain('#include "kptr.h"');
    const { object, stderr } = await compileWithDiagnostics(source, dir, 'reproducer');
    expect(stderr).toBe('');
    const types = await btfTypes(object);
    expect(testLoaderSpec(types, 'test_array_map_2')).toEqual({
      description: 'percpu_kptr.direct_deref "quoted"', expectFailure: true, msgs: ['R1 type=percpu_ptr_ expected=', 'type={{[a-z_]+}}'], retval: null, ignored: [],
    });
    expect(testLoaderSpec(types, 'test_array_map_1')).toEqual({ description: 'accepted store', expectFailure: false, msgs: [], retval: 0, ignored: [] });
    expect(testLoaderSpec(types, 'test_array_map_4')).toEqual({ description: 'accepted delete', expectFailure: false, msgs: [], retval: null, ignored: [] });
  });

  it('should reject a note about a program the scenario lacks', () => {
    assertInvalid(
      () => emitReproducer(percpuAllocArray, [{ program: 'nope', description: 'x', expect: { verdict: 'accepted', retval: null } }]),
      /names program nope/,
    );
  });
});
