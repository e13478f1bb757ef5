/**
 * BTF as plain data (include/uapi/linux/btf.h, Documentation/bpf/btf.rst): one record per type, a union tagged by
 * the kernel's kind name, indexed by type id (id 0 is void). Field names follow `bpftool btf dump` where it has them.
 */

/** BTF_KIND_*: the kind number in bits 24-28 of a type's info word. */
export const BTF_KIND = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11,
  FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;
export type BtfKindName = keyof typeof BTF_KIND;

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;

/** BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL: the encoding byte of an INT */
export const BTF_INT_ENCODING = { none: 0, SIGNED: 1, CHAR: 2, BOOL: 4 } as const;
export type BtfIntEncoding = keyof typeof BTF_INT_ENCODING;

/** enum btf_func_linkage */
export const BTF_FUNC_LINKAGE = { static: 0, global: 1, extern: 2 } as const;
export type FuncLinkage = keyof typeof BTF_FUNC_LINKAGE;
/** BTF_VAR_STATIC, BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_GLOBAL_EXTERN */
export const BTF_VAR_LINKAGE = { static: 0, global: 1, extern: 2 } as const;
export type VarLinkage = keyof typeof BTF_VAR_LINKAGE;

export interface BtfMember {
  readonly name: string;
  readonly type: number;
  /** bits from the start of the struct */
  readonly bitOffset: number;
  /** 0 unless the struct has kind_flag set and the member is a bitfield */
  readonly bitfieldSize: number;
}

export interface BtfParam {
  readonly name: string;
  readonly type: number;
}

export interface BtfVarSecinfo {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

export interface BtfEnumValue {
  readonly name: string;
  /** ENUM: a 32-bit value; ENUM64: a decimal string (values may exceed 2^53) */
  readonly val: number | string;
}

/** The kinds whose record is only a referenced type (in the size/type word). */
export const BTF_REF_KINDS = ['PTR', 'TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT', 'TYPE_TAG'] as const;
export type BtfRefKind = (typeof BTF_REF_KINDS)[number];
export const isRefKind = (kind: string): kind is BtfRefKind => (BTF_REF_KINDS as readonly string[]).includes(kind);

export type BtfType =
  | { readonly kind: 'VOID'; readonly name: '' }
  | { readonly kind: 'INT'; readonly name: string; readonly size: number; readonly bitsOffset: number; readonly nrBits: number; readonly encoding: BtfIntEncoding }
  | { readonly kind: BtfRefKind; readonly name: string; readonly type: number }
  | { readonly kind: 'ARRAY'; readonly name: string; readonly type: number; readonly indexType: number; readonly nelems: number }
  | { readonly kind: 'STRUCT' | 'UNION'; readonly name: string; readonly size: number; readonly kflag: boolean; readonly members: readonly BtfMember[] }
  | { readonly kind: 'ENUM' | 'ENUM64'; readonly name: string; readonly size: number; readonly signed: boolean; readonly values: readonly BtfEnumValue[] }
  | { readonly kind: 'FWD'; readonly name: string; readonly fwdKind: 'struct' | 'union' }
  | { readonly kind: 'FUNC'; readonly name: string; readonly type: number; readonly linkage: FuncLinkage }
  | { readonly kind: 'FUNC_PROTO'; readonly name: string; readonly returnType: number; readonly params: readonly BtfParam[] }
  | { readonly kind: 'VAR'; readonly name: string; readonly type: number; readonly linkage: VarLinkage }
  | { readonly kind: 'DATASEC'; readonly name: string; readonly size: number; readonly vars: readonly BtfVarSecinfo[] }
  | { readonly kind: 'FLOAT'; readonly name: string; readonly size: number }
  | { readonly kind: 'DECL_TAG'; readonly name: string; readonly type: number; readonly componentIdx: number };

/** The record type of one kind, e.g. BtfTypeOf<'STRUCT'> */
export type BtfTypeOf<K extends BtfType['kind']> = BtfType & { readonly kind: K };

/** A decoded .BTF section. */
export interface Btf {
  /** types[id]; types[0] is void */
  readonly types: readonly BtfType[];
  /** the string section, for names .BTF.ext refers to by offset (see btfString) */
  readonly strings: Uint8Array;
}
