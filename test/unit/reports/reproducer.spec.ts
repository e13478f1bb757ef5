import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { predict } from '../../../oracle/predict.ts';
import { emitReproCheck } from '../../../reports/emitReproCheck.ts';
import { compare } from '../../../judge/compare.ts';
import { findingId } from '../../../reports/findingId.ts';
import { REPRO_CLANG, writeFinding } from '../../../reports/reproducer.ts';
import { batchObserver } from '../../../runners/emulator/index.ts';
import { loadScenarioFile, loadSelftests, loadSpec } from '../../../specs/load.ts';
import { batchOpsScenario, mapOpsScenario } from '../../kernel/scenarios.ts';
import { btfTypes } from '../compile/codegen/clangOutput.helper.ts';
import { testLoaderSpec } from '../compile/codegen/testLoaderSpec.helper.ts';
import { KERNEL, LEAK, observation, rejected } from './fixtures/cases.ts';
import { reporterOptions, sampleFinding } from './fixtures/sample.ts';

describe('writeFinding', () => {
  it('should give a vm finding a replay command that names its kernel and codegen', async () => {
    const { outDir } = await reporterOptions();
    const replay = { runner: 'vm', kernel: '6.12.117+deb13-cloud-amd64', codegen: 'direct' } as const;
    const ref = await writeFinding(outDir, { ...sampleFinding(), runner: 'vm', replay });
    expect(ref.replay).toMatch(/\/scenario\.yaml --runner vm --kernel 6\.12\.117\+deb13-cloud-amd64 --codegen direct$/);
    expect(await readFile(join(outDir, ref.dir, 'README.md'), 'utf8')).toContain(ref.replay);
  });

  it('should write every file of a runtime finding and return its summary entry', async () => {
    const { outDir } = await reporterOptions();
    const f = sampleFinding();
    const ref = await writeFinding(outDir, f);
    expect(ref).toEqual({
      id: 'rp_fail-host-6.18.44-fc-v669', scenarioId: 'rp1', runner: 'host', kernelRelease: '6.18.44-fc-v669',
      kinds: ['verdict_kernel_accepts', 'value', 'splat'], dir: 'findings/rp_fail-host-6.18.44-fc-v669',
      replay: `npx kptr-conform replay ${outDir}/findings/rp_fail-host-6.18.44-fc-v669/scenario.yaml --runner host`,
      reproduced: null, unshrunkBecause: null,
    });
    const dir = join(outDir, ref.dir);
    expect((await readdir(dir)).sort()).toEqual(['README.md', 'finding.json', 'kptr.h', 'repro.bpf.c', 'repro_check.c', 'scenario.yaml', 'verifier.log']);
    const readme = await readFile(join(dir, 'README.md'), 'utf8');
    expect(readme).toContain(ref.replay);
    expect(readme).toContain('seed 42, path 3:1:0');
    expect(await readFile(join(dir, 'scenario.yaml'), 'utf8')).toContain('rp1_sum_it');
    // the kernel accepted every program in this finding
    expect(await readFile(join(dir, 'verifier.log'), 'utf8')).toBe('every program was accepted by 6.18.44-fc-v669\n');
    const record = JSON.parse(await readFile(join(dir, 'finding.json'), 'utf8'));
    expect(record.result).toEqual(f.result);
  });

  it('should write the oracle expectation into repro.bpf.c, which compiles with clang-16 beside kptr.h', async () => {
    const { outDir } = await reporterOptions();
    const ref = await writeFinding(outDir, sampleFinding());
    const dir = join(outDir, ref.dir);
    const source = await readFile(join(dir, 'repro.bpf.c'), 'utf8');
    expect(source).toContain('__description("refs.unreleased")');
    expect(source).toContain('__msg("Unreleased reference id={{[0-9]+}} alloc_insn={{[0-9]+}}")');
    expect(source).toContain('__success __retval(3)');
    const [cmd, ...args] = REPRO_CLANG.split(' ');
    const r = await execa(cmd!, args, { cwd: dir });
    expect(r.stderr).toBe('');
    expect((await readdir(dir))).toContain('repro.bpf.o');
  });

  it('should annotate repro.bpf.c so that upstream test_loader reads the oracle\'s expectation from its BTF', async () => {
    const { outDir } = await reporterOptions();
    const f = sampleFinding();
    const dir = join(outDir, (await writeFinding(outDir, f)).dir);
    const [cmd, ...args] = REPRO_CLANG.split(' ');
    await execa(cmd!, args, { cwd: dir });
    const types = await btfTypes(join(dir, 'repro.bpf.o'));
    expect(testLoaderSpec(types, 'rp1_leak')).toEqual({ description: 'refs.unreleased', expectFailure: true, msgs: LEAK.lines, retval: null, ignored: [] });
    expect(testLoaderSpec(types, 'rp1_store')).toEqual({ description: `${f.id}: rp1_store is valid`, expectFailure: false, msgs: [], retval: 3, ignored: [] });
    expect(testLoaderSpec(types, 'rp1_sum_it')).toEqual({ description: `${f.id}: rp1_sum_it is valid`, expectFailure: false, msgs: [], retval: 0, ignored: [] });
  });

  it('should write a repro_check.c that builds against the static libbpf', async () => {
    const { outDir } = await reporterOptions();
    const ref = await writeFinding(outDir, sampleFinding());
    const dir = join(outDir, ref.dir);
    const check = await readFile(join(dir, 'repro_check.c'), 'utf8');
    expect(check).toContain('{ "rp1_sum_it", 1, 1, 1, 1, 0, 0 },');
    expect(check).toContain('{ 2, "rp1_sum", "10" },');
    const r = await execa('gcc', ['-O2', '-Wall', 'repro_check.c', '-o', 'repro_check', '-static', '-lbpf', '-lelf', '-lz'], { cwd: dir });
    expect(r.stderr).toBe('');
  });

  it('should make the userspace map operations of the schedule in repro_check.c, each with its errno and value (a batch: count and keys)', async () => {
    const s = mapOpsScenario('rm', 'percpu_hash');
    const p = predict(s, { version: '6.18.44', nrCpus: 2, divergences: [] }, loadSpec());
    const check = emitReproCheck(s, p, 'map operations');
    expect(check).toContain('{ 3, "rm_m", "update", "0", 2, 5ULL, "OK", "-", "-" },');
    expect(check).toContain('{ 6, "rm_m", "lookup", "0", 0, 0ULL, "OK", "[[5,0],[5,0]]", "-" },');
    expect(check).toContain('{ 11, "rm_m", "delete", "0", 0, 0ULL, "ENOENT", "-", "-" },');
    // the batch forms, with the count and keys they must give
    const b = batchOpsScenario('rb', 'percpu_hash');
    const batch = emitReproCheck(b, predict(b, { version: '6.18.44', nrCpus: 2, divergences: [] }, loadSpec()), 'batch map operations');
    expect(batch).toContain('{ 6, "rb_m", "update_batch", "0,1", 0, 5ULL, "E2BIG", "-", "1" },');
    expect(batch).toContain('{ 13, "rb_m", "delete_batch", "-", 0, 0ULL, "OK", "-", "0" },');
    expect(batch).toContain('{ 16, "rb_m", "lookup_and_delete_batch", "2", 0, 0ULL, "ENOENT", "[[0,0],[0,0]]", "1 [0]" },');
    for (const source of [check, batch]) {
      const dir = await mkdtemp(join(tmpdir(), 'kptr-repro-mapops-'));
      await writeFile(join(dir, 'repro_check.c'), source);
      const r = await execa('gcc', ['-O2', '-Wall', 'repro_check.c', '-o', 'repro_check', '-static', '-lbpf', '-lelf', '-lz'], { cwd: dir });
      expect(r.stderr).toBe('');
    }
  });

  it('should state the scenario and the contract of its userspace map operations in the README of a runtime finding', async () => {
    const hdk = loadScenarioFile(new URL('../../../specs/regressions/htab_delete_keeps_percpu_kptr.yaml', import.meta.url).pathname);
    const [o] = await batchObserver({ kernel: '7.3', workDir: await mkdtemp(join(tmpdir(), 'kptr-repro-hdk-')) })([hdk], new Map());
    const p = predict(hdk, { version: '6.18.15', nrCpus: 2, divergences: [] }, loadSpec());
    const outDir = await mkdtemp(join(tmpdir(), 'kptr-repro-'));
    const ref = await writeFinding(outDir, { ...sampleFinding(), scenario: hdk, prediction: p, observation: o!, result: compare(p, o!) });
    const readme = await readFile(join(outDir, ref.dir, 'README.md'), 'utf8');
    expect(readme).toContain(`Scenario: ${hdk.description}.`);
    expect(readme).toMatch(/## The contract\n\n- BPF_MAP_DELETE_ELEM[^\n]*released[^\n]*\n- BPF_MAP_DELETE_BATCH[^\n]*\n- BPF_MAP_LOOKUP_AND_DELETE_BATCH/);
    expect(readme).toContain('value in hdk_check at step 3: expected retval=1; observed retval=2');
    expect(await readdir(join(outDir, ref.dir))).toContain('repro_check.c');
  });

  it('should say in the README and the ref when a finding did not come back when run alone', async () => {
    const { outDir } = await reporterOptions();
    const once = await writeFinding(outDir, { ...sampleFinding(), reproduced: false });
    expect(once.reproduced).toBe(false);
    expect(await readFile(join(outDir, once.dir, 'README.md'), 'utf8')).toContain('**Not reproduced.**');
    const { outDir: other } = await reporterOptions();
    const checked = await writeFinding(other, sampleFinding());
    expect(await readFile(join(other, checked.dir, 'README.md'), 'utf8')).not.toContain('Not reproduced');
  });

  it('should leave out repro_check.c for a verifier-only finding', async () => {
    const { outDir } = await reporterOptions();
    const f = sampleFinding();
    const verdictOnly = { ...f, result: { ...f.result, mismatches: f.result.mismatches.filter((m) => m.kind === 'verdict_kernel_accepts') } };
    const ref = await writeFinding(outDir, verdictOnly);
    expect(await readdir(join(outDir, ref.dir))).not.toContain('repro_check.c');
    expect(ref.kinds).toEqual(['verdict_kernel_accepts']);
  });

  it('should give a verifier-bug splat at load a selftest with the correct refusal and no runtime check', async () => {
    const { outDir } = await reporterOptions();
    // the finding as a campaign reported it before divergence rcu_alloc_xchg_src_verifier_bug was recorded
    const full = loadSpec();
    const scenario = loadSelftests(undefined, full).find((c) => c.scenario.id === 'xr_elem')!.scenario;
    const spec = { ...full, divergences: [] };
    const p = predict(scenario, { version: KERNEL.version, nrCpus: KERNEL.nrCpus, divergences: [] }, spec);
    const bug = 'verifier bug: invalid PTR_TO_BTF_ID register for type match';
    const o = observation({
      scenarioId: scenario.id,
      programs: [rejected('xr_elem_p0', `14: (85) call bpf_kptr_xchg#194\n${bug}\n`, { errno: 14, errnoName: 'EFAULT', summary: `load xr_elem_p0 (syscall): EFAULT: ${bug}` })],
      runs: [],
      splats: [{ kind: 'verifier_bug', text: `------------[ cut here ]------------\n${bug}\nWARNING: CPU: 1 PID: 8012 at kernel/bpf/verifier.c:9661 check_reg_type+0x4a0/0x540`, during: 'xr_elem_p0' }],
    });
    const result = compare(p, o);
    expect(result.mismatches.map((m) => [m.kind, m.program])).toEqual([['message', 'xr_elem_p0'], ['splat', 'xr_elem_p0']]);
    const f = { id: findingId(result), scenario, prediction: p, observation: o, result, seed: null, path: null, kernel: KERNEL, runner: 'host', replay: { runner: 'host', kernel: null, codegen: 'clang' }, reproduced: true, unshrunkBecause: null } as const;
    const dir = join(outDir, (await writeFinding(outDir, f)).dir);
    expect(await readdir(dir)).not.toContain('repro_check.c');
    expect(await readFile(join(dir, 'README.md'), 'utf8')).toContain('while verifying `xr_elem_p0`: loading repro.bpf.o reproduces it');
    const [cmd, ...args] = REPRO_CLANG.split(' ');
    await execa(cmd!, args, { cwd: dir });
    expect(testLoaderSpec(await btfTypes(join(dir, 'repro.bpf.o')), 'xr_elem_p0')).toEqual({
      description: 'kptr_xchg.rcu_src', expectFailure: true, msgs: ['invalid kptr access, R2 type=rcu_ptr_ expected=ptr_xr_elem_t0'], retval: null, ignored: [],
    });
  });
});
