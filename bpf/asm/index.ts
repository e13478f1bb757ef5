/**
 * BPF instructions, as cilium/ebpf's asm/: the opcode parts with the kernel's names, the 8-byte slot (`Insn`) and its
 * wire form both ways, builders, helper ids, the verifier log's instruction printer, and an assembler for
 * bpf_conformance's test syntax. ISA v1-v4.
 */
export * from './opcode.ts';
export { decodeInsns, encodeInsns, isLdImm64, ldImm64Value, LD_IMM64, makeInsn, type Insn } from './insn.ts';
export { I } from './I.ts';
export * from './register.ts';
export { BPF_FUNC, type BpfFuncName } from './funcIds.ts';
export { formatInsn, formatInsns, funcIdName, type FormatInsnOptions } from './formatInsn.ts';
export { assemble } from './assemble.ts';
