/**
 * BTF and .BTF.ext, as cilium/ebpf's btf/: readBtf decodes a .BTF section into types indexed by id (a union tagged by
 * the kernel's kind names), BtfWriter writes one; readBtfExt / writeBtfExt do the same for func_info, line_info and
 * CO-RE relocations. The helpers resolve, size, walk, find and name types as the kernel does.
 */
export * from './kinds.ts';
export { readBtf } from './readBtf.ts';
export { BtfWriter, type BtfWriterMember } from './BtfWriter.ts';
export * from './btfExt.ts';
export { btfType, skipModifiers } from './skipModifiers.ts';
export { typeSize } from './typeSize.ts';
export { walkMembers, type MemberAt } from './walkMembers.ts';
export { findType } from './findType.ts';
export { cTypeName, typeName } from './typeName.ts';
