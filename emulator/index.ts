/**
 * The emulator's public surface: load a BPF object as libbpf would (loader/), and run its programs on a userspace
 * machine with the kernel's run-time semantics (machine/). Imports nothing from oracle/ or runners/.
 */
export { loadObject, type LoadOptions } from './loader/loadObject.ts';
export type {
  BpfMapType, BpfObjectSpec, BpfProgType, DatasecVar, KfuncSpec, KptrField, MapSpec, ProgramSpec, Relocation,
} from './loader/objectSpec.ts';
export { Machine, type MachineOptions, type Oops, type RunResult } from './machine/Machine.ts';
export type { FreedMemory } from './machine/Heap.ts';
