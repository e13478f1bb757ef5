import { BPF_PROBE_MEM, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from '../../bpf/asm/opcode.ts';
import { AddressSpace, FREED, formatAddress, MachineFault } from '../memory/AddressSpace.ts';
import { execute, MAX_BPF_STACK, newRegs, type CallEnv, type ExecOptions, type Regs } from '../interpreter/execute.ts';
import type { BpfObjectSpec, BpfProgType, DatasecVar, ProgramSpec } from '../loader/objectSpec.ts';
import { Heap, type FreedMemory, type TypeFacts } from './Heap.ts';
import { MapStore } from './MapStore.ts';
import { helperCall, type Call, type RunContext } from './helpers.ts';
import { kfuncCall } from './kfuncs.ts';
import { readGlobal } from './globals.ts';
import { btfTypeFacts } from './btfTypeFacts.ts';
import { LOCAL_STORAGE_MAP_TYPES } from '../loader/objectSpec.ts';
import { KERNEL_STRUCTS, type KernelStruct } from '../vmlinux/kernelStructs.ts';

export interface MachineOptions {
  /** CPUs of the emulated machine (libbpf_num_possible_cpus()): per-CPU values exist for 0..nrCpus-1 */
  readonly nrCpus: number;
  /** how the allocator reuses memory freed after a grace period (default 'zeroed'); see FreedMemory */
  readonly freedMemory?: FreedMemory;
  /** instructions one run may execute before it is stopped as a fault (default 1,000,000) */
  readonly maxInsns?: number;
  /** a userspace removal or overwrite of a hash element leaves its kptr fields to the next element (MapStore keepsKptr; default false) */
  readonly htabDeleteKeepsKptr?: boolean;
  /** Linux 7.3 (divergence array_update_keeps_percpu_kptr): a userspace update of an array element keeps its kptr fields */
  readonly arrayUpdateKeepsKptr?: boolean;
}

/** A run that ended in a fault: what the kernel would print as an Oops, as data. */
export interface Oops {
  readonly program: string;
  readonly cpu: number;
  /** instruction index (the kernel's numbering: ld_imm64 counts two) */
  readonly insn: number;
  /** the faulting address (`0xff00000300000010`), or null when the fault is not a memory access */
  readonly address: string | null;
  readonly why: string;
}

/** One BPF_PROG_TEST_RUN of a program. */
export type RunResult =
  | {
      readonly outcome: 'exit';
      readonly program: string;
      readonly cpu: number;
      /** r0 as the harness reports `retval` (a 32-bit int) */
      readonly retval: number;
    }
  | { readonly outcome: 'fault'; readonly program: string; readonly cpu: number; readonly oops: Oops };

/** MAX_CALL_FRAMES */
const MAX_CALL_FRAMES = 8;
/** sizeof(struct __sk_buff): a tc program's ctx */
const SK_BUFF_SIZE = 192;

/**
 * A userspace machine with `nrCpus` CPUs that has loaded one BPF object: its maps exist, and programs run on a chosen
 * CPU as BPF_PROG_TEST_RUN would run them, with the kernel's run-time semantics (per-CPU values, helpers, kfuncs,
 * object lifetimes: an RCU grace period ends after every run). Nothing here throws for a program's misbehaviour: a
 * fault comes back as an Oops in the RunResult.
 */
export class Machine implements CallEnv {
  readonly mem = new AddressSpace();
  readonly nrCpus: number;
  private readonly heap: Heap;
  private readonly maps: MapStore[];
  /** the object's own maps (not .bss and the like) by name, for userspace's map operations; made on first use */
  private userMapIndex: Map<string, MapStore> | null = null;
  private readonly programs = new Map<string, ProgramSpec>();
  private readonly kfuncs: readonly Call[];
  private readonly stacks: number[] = [];
  private readonly ctxRegions: Readonly<Record<BpfProgType, number>>;
  private readonly maxInsns: number;
  private readonly regs: Regs = newRegs();
  /** value regions of map elements removed during the current run */
  private readonly retired: number[] = [];
  private readonly run_: RunContext;
  private readonly execOptions: ExecOptions;
  private freed = false;
  /** the current task's number (ownerExit makes a new one), also its cgroup's */
  private owner = 0;
  /** the current task's region, its css_set's and its cgroup's */
  private ownerRegions: number[] = [];
  private globalIndex: Map<string, { readonly map: MapStore; readonly v: DatasecVar }> | null = null;

  private constructor(readonly object: BpfObjectSpec, options: MachineOptions, types: TypeFacts) {
    if (!Number.isInteger(options.nrCpus) || options.nrCpus < 1) throw new RangeError(`nrCpus must be a positive integer, not ${options.nrCpus}`);
    this.nrCpus = options.nrCpus;
    this.maxInsns = options.maxInsns ?? 1_000_000;
    this.heap = new Heap(this.mem, this.nrCpus, types, options.freedMemory ?? 'zeroed');
    this.maps = object.maps.map((m, i) => new MapStore(m, i, this.mem, this.heap, this.nrCpus, this.retired, options.htabDeleteKeepsKptr ?? false, options.arrayUpdateKeepsKptr ?? false));
    this.kfuncs = object.kfuncs.map((k) => kfuncCall(k.name));
    for (let f = 0; f < MAX_CALL_FRAMES; f++) this.stacks.push(this.mem.add('stack', `stack frame ${f}`, MAX_BPF_STACK));
    // fentry's ctx: the traced function's arguments (bpf_fentry_test1(1)); syscall runs without ctx_in (NULL)
    const fentryArgs = new Uint8Array(8);
    fentryArgs[0] = 1;
    this.ctxRegions = {
      BPF_PROG_TYPE_SCHED_CLS: this.mem.add('ctx', 'ctx (struct __sk_buff)', SK_BUFF_SIZE, false),
      BPF_PROG_TYPE_SYSCALL: -1,
      BPF_PROG_TYPE_TRACING: this.mem.add('ctx', 'ctx (fentry arguments)', fentryArgs, false),
    };
    for (const p of object.programs) this.programs.set(p.name, p);
    this.run_ = { mem: this.mem, heap: this.heap, maps: this.maps, nrCpus: this.nrCpus, cpu: 0, rcuDepth: 0, task: this.newTask() };
    this.execOptions = { stacks: this.stacks, maxInsns: this.maxInsns, scratch: new Int32Array(2), frames: [] };
  }

  /** Creates the object's maps (with .rodata as the loader set it) on a new machine. */
  static load(object: BpfObjectSpec, options: MachineOptions): Machine {
    return new Machine(object, options, btfTypeFacts(object.btf));
  }

  /** program names, in object order */
  programNames(): string[] {
    return this.object.programs.map((p) => p.name);
  }

  hasProgram(name: string): boolean {
    return this.programs.has(name);
  }

  /**
   * The verifier's rewrite of `program`'s loads through untrusted pointers (insn indices) to BPF_PROBE_MEM, as
   * convert_ctx_accesses does, on this machine's copy: such a load reads 0 where the kernel's exception table catches
   * a fault, instead of oopsing.
   * @throws RangeError for an unknown program
   */
  probeMem(program: string, insns: readonly number[]): void {
    const p = this.programs.get(program);
    if (!p) throw new RangeError(`no program ${program} in the object`);
    if (insns.length === 0) return;
    const words = p.words.slice();
    for (const i of insns) words[2 * i] = ((words[2 * i] as number) & ~0xe0) | BPF_PROBE_MEM;
    this.programs.set(program, { ...p, words });
  }

  /**
   * BPF_PROG_TEST_RUN of `program` with the calling thread pinned to `cpu`. The RCU grace period that follows ends
   * the life of everything the run freed.
   * @throws RangeError for an unknown program or a CPU outside 0..nrCpus-1 (the caller's mistake, not the program's)
   */
  run(program: string, cpu: number): RunResult {
    const p = this.programs.get(program);
    if (!p) throw new RangeError(`no program ${program} in the object`);
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.nrCpus) throw new RangeError(`cpu ${cpu} does not exist (nr_cpus=${this.nrCpus})`);
    if (this.freed) throw new RangeError('the machine\'s maps were freed');
    this.run_.cpu = cpu;
    this.run_.rcuDepth = 0;
    const regs = this.regs;
    // a loop, not fill(): two builtin calls per run cost more than the eleven stores
    for (let r = 0; r < regs.lo.length; r++) {
      regs.lo[r] = 0;
      regs.hi[r] = 0;
    }
    const ctxRegion = this.ctxRegions[p.progType];
    if (ctxRegion > 0) regs.hi[1] = AddressSpace.hiOf(ctxRegion);
    const r = execute(p.words, this, regs, this.execOptions);
    this.gracePeriod(cpu);
    if (r.kind === 'exit') return { outcome: 'exit', program, cpu, retval: r.lo };
    return { outcome: 'fault', program, cpu, oops: { program, cpu, insn: r.insn, address: r.hi === null ? null : formatAddress(r.hi, r.lo), why: r.why } };
  }

  /**
   * The runs' task, owner `owner` of its task storage, in a cgroup of its own, owner `owner` of its cgroup storage:
   * read-only regions laid out as the emulated kernel's structs (emulator/vmlinux), task->cgroups->dfl_cgrp.
   */
  private newTask(): number {
    const owner = ++this.owner;
    const cgroup = this.mem.add('cgroup', `cgroup ${owner}`, KERNEL_STRUCTS.cgroup.size, false, owner);
    const cssSet = this.mem.add('css_set', `css_set of task ${owner}`, pointerTo(KERNEL_STRUCTS.css_set, cgroup), false);
    const task = this.mem.add('task', `task ${owner}`, pointerTo(KERNEL_STRUCTS.task_struct, cssSet), false, owner);
    this.ownerRegions = [task, cssSet, cgroup];
    return task;
  }

  /**
   * The task the runs happen in exits and its cgroup is removed (the schedule's owner_exit): their task and cgroup
   * storage is freed, each element's kptr fields releasing their objects, a grace period follows, and later runs
   * happen in a new task in a new cgroup, with no storage.
   * Returns the faults this meets, one line each.
   */
  ownerExit(): string[] {
    if (this.freed) throw new RangeError('the machine\'s maps were freed');
    const problems = this.maps.filter((m) => LOCAL_STORAGE_MAP_TYPES.has(m.spec.type)).flatMap((m) => m.ownerGone(this.owner));
    for (const r of this.ownerRegions) this.mem.states[r] = FREED;
    this.run_.task = this.newTask();
    this.gracePeriod(this.run_.cpu);
    return problems;
  }

  private gracePeriod(cpu: number): void {
    this.heap.gracePeriod(cpu);
    if (this.retired.length === 0) return;
    for (const r of this.retired) this.mem.states[r] = FREED;
    this.retired.length = 0;
  }

  /**
   * Values of globals in .bss/.data/.rodata as the harness reports them (decimal strings, signed per BTF), by name;
   * null for a name that is not an integer global of those sections. Without names: every integer global there.
   */
  globals(names?: readonly string[]): Record<string, string | null> {
    const index = (this.globalIndex ??= this.indexGlobals());
    // a dictionary from the start: every scenario's globals have names of their own (its id prefixes them), and a
    // literal given new names grows a chain of hidden classes per scenario, a share of every run that reads globals
    const out: Record<string, string | null> = Object.create(null);
    for (const name of names ?? [...index.keys()]) {
      const g = index.get(name);
      if (!g) {
        out[name] = null;
        continue;
      }
      if (!names && g.v.signed === null) continue;
      const region = g.map.valueRegion(0, 0);
      out[name] = region < 0 ? null : readGlobal(this.mem.view, this.mem.baseOf(region), g.v);
    }
    return out;
  }

  /** the object's own map called `name` (the first of that name) */
  private userMap(name: string): MapStore | undefined {
    if (this.userMapIndex === null) {
      this.userMapIndex = new Map();
      for (const m of this.maps) if (m.spec.internal === null && !this.userMapIndex.has(m.spec.name)) this.userMapIndex.set(m.spec.name, m);
    }
    return this.userMapIndex.get(name);
  }

  /** the variables of .bss, .data and .rodata (the sections the harness reads globals from), by name */
  private indexGlobals(): Map<string, { readonly map: MapStore; readonly v: DatasecVar }> {
    const index = new Map<string, { map: MapStore; v: DatasecVar }>();
    for (const map of this.maps) {
      const internal = map.spec.internal;
      if (!internal || internal.section !== `.${internal.kind}`) continue;
      for (const v of map.spec.vars) index.set(v.name, { map, v });
    }
    return index;
  }

  /**
   * The maps are freed (the object is closed): every kptr field still set releases its object. Returns the faults
   * this meets (a field holding an object already freed), one line each, as the kernel would splat them. The
   * machine's memory then goes to the next machine: globals() cannot be read after this.
   */
  free(): string[] {
    if (this.freed) return [];
    this.freed = true;
    const problems: string[] = [];
    for (const m of this.maps) m.destroy(problems);
    this.gracePeriod(0);
    this.mem.release();
    this.heap.release();
    return problems;
  }

  /**
   * The maps named `names` are freed while the rest of the object lives on (their last references closed): every
   * kptr field still set releases its object, as free() does for all maps; a grace period follows. Returns the faults
   * this meets, one line each.
   * @throws RangeError for a map the object does not have
   */
  freeMaps(names: readonly string[]): string[] {
    if (this.freed) throw new RangeError('the machine\'s maps were freed');
    const maps = names.map((n) => this.userMap(n) ?? n);
    const missing = maps.find((m) => typeof m === 'string');
    if (missing !== undefined) throw new RangeError(`no map ${missing} in the object`);
    const problems: string[] = [];
    for (const m of maps as MapStore[]) m.destroy(problems);
    this.gracePeriod(this.run_.cpu);
    return problems;
  }

  /**
   * bpf(2) BPF_MAP_UPDATE_ELEM / DELETE_ELEM / LOOKUP_ELEM / LOOKUP_AND_DELETE_ELEM from userspace on the map named
   * `map`, with an `int` key: the errno (0 on success) and the value a lookup copied out (MapStore.sysLookup). What
   * it releases is freed at the grace period that follows, as after a run.
   * @throws RangeError for a map the object does not have
   */
  mapElem(map: string, cmd: 'update' | 'delete' | 'lookup' | 'lookup_and_delete', key: number, value: Uint8Array, flags: number): { readonly errno: number; readonly value: Uint8Array | null } {
    const m = this.userMap(map);
    if (!m) throw new RangeError(`no map ${map} in the object`);
    if (this.freed) throw new RangeError('the machine\'s maps were freed');
    let errno = 0;
    let out: Uint8Array | null = null;
    if (cmd === 'update') errno = -m.sysUpdate(key, value, flags);
    else if (cmd === 'delete') errno = -m.sysDelete(key);
    else {
      const r = m.sysLookup(key, cmd === 'lookup_and_delete', flags);
      if (typeof r === 'number') errno = -r;
      else out = r;
    }
    this.gracePeriod(this.run_.cpu);
    return { errno, value: out };
  }

  /**
   * bpf(2) BPF_MAP_*_BATCH from userspace on the map named `map` (MapStore.sysBatch); what it releases is freed at
   * the grace period that follows, as after a run.
   * @throws RangeError for a map the object does not have
   */
  mapBatch(map: string, cmd: Parameters<MapStore['sysBatch']>[0], keys: readonly number[], values: Uint8Array, count: number, elemFlags: number): ReturnType<MapStore['sysBatch']> {
    const m = this.userMap(map);
    if (!m) throw new RangeError(`no map ${map} in the object`);
    if (this.freed) throw new RangeError('the machine\'s maps were freed');
    const r = m.sysBatch(cmd, keys, values, count, elemFlags);
    this.gracePeriod(this.run_.cpu);
    return r;
  }

  /** objects allocated and not yet freed */
  liveObjects(): number {
    return this.heap.live();
  }

  // CallEnv: what instructions reach through calls and ld_imm64

  helper(id: number, regs: Regs): void {
    helperCall(id)(this.run_, regs);
  }

  kfunc(imm: number, regs: Regs): void {
    const k = this.kfuncs[imm];
    if (!k) throw new MachineFault(`kfunc call #${imm} names no kfunc of the object`);
    k(this.run_, regs);
  }

  ldImm64(src: number, imm: number, nextImm: number, regs: Regs, dst: number): void {
    const m = this.maps[imm];
    if (!m) throw new MachineFault(`ld_imm64 src_reg ${src}: map #${imm} does not exist`);
    if (src === BPF_PSEUDO_MAP_FD) {
      regs.lo[dst] = 0;
      regs.hi[dst] = AddressSpace.hiOf(m.handle);
    } else if (src === BPF_PSEUDO_MAP_VALUE) {
      regs.lo[dst] = nextImm;
      regs.hi[dst] = AddressSpace.hiOf(m.valueRegion(0, this.run_.cpu));
    } else {
      throw new MachineFault(`ld_imm64 with src_reg ${src} is not supported`);
    }
  }
}

/** The bytes of a kernel struct whose one pointer field points at `region`. */
function pointerTo(struct: KernelStruct, region: number): Uint8Array {
  const bytes = new Uint8Array(struct.size);
  new DataView(bytes.buffer).setInt32(struct.fields[0]!.off + 4, AddressSpace.hiOf(region), true);
  return bytes;
}
