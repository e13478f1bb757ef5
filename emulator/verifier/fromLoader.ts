/**
 * The loader's object (emulator/loader) → what the verifier model checks for one program: relocations resolved to
 * map descriptions, kfunc names per call, and the BTF facts the kernel consults (kptr fields of map values, what
 * bpf_obj_new's local type id names).
 */
import type { Btf } from '../../bpf/btf/kinds.ts';
import { skipModifiers } from '../../bpf/btf/skipModifiers.ts';
import { typeSize } from '../../bpf/btf/typeSize.ts';
import type { BpfObjectSpec, BpfProgType, MapSpec, ProgramSpec } from '../loader/objectSpec.ts';
import type { KptrField, LdImm64, LocalType, MapDesc, ProgKind, VerifierProgram } from './input.ts';

const PROG_KIND: Record<BpfProgType, ProgKind> = {
  BPF_PROG_TYPE_SCHED_CLS: 'sched_cls',
  BPF_PROG_TYPE_SYSCALL: 'syscall',
  BPF_PROG_TYPE_TRACING: 'tracing',
};

/** Struct types that make a btf_record (btf_parse_fields with the struct-meta mask). */
const SPECIAL_STRUCTS = new Set(['bpf_spin_lock', 'bpf_res_spin_lock', 'bpf_list_head', 'bpf_list_node', 'bpf_rb_root', 'bpf_rb_node', 'bpf_refcount']);

const isScalarType = (btf: Btf, id: number): boolean => {
  const k = btf.types[skipModifiers(btf, id)]?.kind;
  return k === 'INT' || k === 'ENUM' || k === 'ENUM64';
};

/** __btf_type_is_scalar_struct. */
function scalarStruct(btf: Btf, id: number, depth: number): boolean {
  const t = btf.types[id];
  if (t?.kind !== 'STRUCT') return false;
  return t.members.every((m) => {
    const mid = skipModifiers(btf, m.type);
    const mt = btf.types[mid];
    if (mt?.kind === 'STRUCT') return depth < 3 && scalarStruct(btf, mid, depth + 1);
    if (mt?.kind === 'ARRAY') return mt.nelems > 0 && isScalarType(btf, mt.type);
    return isScalarType(btf, mid);
  });
}

/** A direct member is a special field: a kptr-tagged pointer or one of the special structs (or an array of them). */
function hasSpecialField(btf: Btf, id: number): boolean {
  const t = btf.types[id];
  if (t?.kind !== 'STRUCT') return false;
  return t.members.some((m) => {
    let mid = skipModifiers(btf, m.type);
    let mt = btf.types[mid];
    if (mt?.kind === 'ARRAY') { mid = skipModifiers(btf, mt.type); mt = btf.types[mid]; }
    if (mt?.kind === 'STRUCT') return SPECIAL_STRUCTS.has(mt.name);
    if (mt?.kind !== 'PTR') return false;
    const tag = btf.types[mt.type];
    return tag?.kind === 'TYPE_TAG' && (tag.name === 'kptr' || tag.name === 'percpu_kptr' || tag.name === 'kptr_untrusted');
  });
}

export function localTypeOf(btf: Btf, id: number): LocalType | null {
  const t = btf.types[id];
  if (t === undefined) return null;
  if (t.kind !== 'STRUCT') return { kind: 'other', name: t.name, size: 0, scalarsOnly: false, specialFields: false };
  return { kind: 'struct', name: t.name, size: t.size, scalarsOnly: scalarStruct(btf, id, 0), specialFields: hasSpecialField(btf, id) };
}

/** The map as the kernel sees it; a kptr whose pointee is not a complete struct makes btf_parse_fields fail, and the record is dropped. */
function mapDesc(btf: Btf, m: MapSpec): MapDesc {
  const complete = m.kptrFields.every((f) => btf.types[f.pointeeTypeId]?.kind === 'STRUCT');
  const fields: KptrField[] = complete
    ? m.kptrFields.map((f) => ({
        off: f.offset, kind: f.tag === 'percpu_kptr' ? 'percpu_kptr' : 'kptr',
        pointee: { id: f.pointeeTypeId, name: f.pointee, size: typeSize(btf, f.pointeeTypeId) ?? 0 },
      }))
    : [];
  return {
    name: m.name,
    kind: m.type,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    frozenValue: m.internal?.kind === 'rodata' ? m.initial : null,
    fields: m.valueTypeId === null ? null : fields,
    spinLock: m.spinLockOffset !== null,
  };
}

const mapDescs = new WeakMap<BpfObjectSpec, readonly MapDesc[]>();
/** the ld_imm64 of each map of an object, one per map shared by its programs (they are values) */
const mapLoads = new WeakMap<BpfObjectSpec, LdImm64[]>();
/** one lookup per object, shared by its programs (a closure per program cost a visible share: tsx names each one) */
const localTypes = new WeakMap<BpfObjectSpec, (id: number) => LocalType | null>();

function localTypeLookup(obj: BpfObjectSpec): (id: number) => LocalType | null {
  const known = new Map<number, LocalType | null>();
  const lookup = (id: number): LocalType | null => {
    if (!known.has(id)) known.set(id, localTypeOf(obj.btf, id));
    return known.get(id)!;
  };
  localTypes.set(obj, lookup);
  return lookup;
}
/** one array per object, so that checks of the object's externs can be remembered by it (verify.ts) */
const externs = new WeakMap<BpfObjectSpec, readonly string[]>();

function setExterns(obj: BpfObjectSpec): readonly string[] {
  const e = obj.kfuncs.filter((k) => !k.weak).map((k) => k.name);
  externs.set(obj, e);
  return e;
}

/** The verifier model's view of program `prog` of `obj` (map descriptions and type facts computed once per object). */
export function verifierProgram(obj: BpfObjectSpec, prog: ProgramSpec): VerifierProgram {
  let maps = mapDescs.get(obj);
  if (maps === undefined) {
    maps = obj.maps.map((m) => mapDesc(obj.btf, m));
    mapDescs.set(obj, maps);
  }
  let loads = mapLoads.get(obj);
  if (loads === undefined) mapLoads.set(obj, (loads = []));
  // arrays by slot index, not objects: integer keys made each object a dictionary, a visible share of this function
  const ldImm64: LdImm64[] = [];
  const kfuncCalls: string[] = [];
  for (const r of prog.relocations) {
    if (r.kind === 'map') ldImm64[r.insn] = loads[r.map] ??= { kind: 'map', map: maps[r.map]! };
    else if (r.kind === 'map_value') ldImm64[r.insn] = { kind: 'map_value', map: maps[r.map]!, off: r.offset };
    else if (r.kind === 'kfunc') kfuncCalls[r.insn] = obj.kfuncs[r.kfunc]!.name;
  }
  return {
    name: prog.name,
    progKind: PROG_KIND[prog.progType],
    sleepable: prog.sleepable,
    attachTo: prog.attachTo,
    license: obj.license,
    words: prog.words,
    length: prog.words.length >> 1,
    ldImm64,
    kfuncCalls,
    externKfuncs: externs.get(obj) ?? setExterns(obj),
    localType: localTypes.get(obj) ?? localTypeLookup(obj),
  };
}
