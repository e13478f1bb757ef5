import type { StructMember, StructType } from '../../types/index.ts';
import { scenarioInvalid } from './scenarioInvalid.ts';

/**
 * Section of the anchor globals. libbpf skips data sections it does not know ("elf: skipping
 * unrecognized data section"), so the anchors create no map: no mmapable .bss bytes, and no map
 * whose value holds a bpf_spin_lock or kptr. Their BTF VARs still make every struct a full STRUCT.
 */
export const ANCHOR_SECTION = '.anchors';

/**
 * One section per anchor: clang-16's BPF backend cannot pad between variables of different alignment in a section
 * it does not know ("unable to write nop sequence of 4 bytes", e.g. a 4-byte spin-lock struct before an 8-byte one).
 */
export function anchorSection(struct: string): string {
  return `${ANCHOR_SECTION}.${struct}`;
}

/**
 * C for a scenario's structs: forward declarations (a kptr member may name a struct defined
 * later), the definitions in dependency order (a `struct` member needs its type complete), and one
 * anchor global per struct. The anchor exists because clang emits only a FWD for a struct reached
 * solely through a `__percpu_kptr` pointer, and the kernel then silently ignores the field
 * (ground-truth case 37).
 */
export function emitStructs(scenarioId: string, structs: readonly StructType[]): string[] {
  const ordered = dependencyOrder(scenarioId, structs);
  return [
    ...ordered.map((t) => `struct ${t.name};`),
    '',
    ...ordered.flatMap((t) => [`struct ${t.name} {`, ...t.members.map((m) => `\t${memberDecl(m)};`), '};', '']),
    ...ordered.map((t) => `struct ${t.name} ${anchorName(t.name)} SEC("${anchorSection(t.name)}");`),
  ];
}

/** Name of the anchor global of `struct <name>`. */
export function anchorName(struct: string): string {
  return `__anchor_${struct}`;
}

function memberDecl(m: StructMember): string {
  const dims = (count: number | null): string => (count === null ? '' : `[${count}]`);
  switch (m.kind) {
    case 'scalar':
      return `${m.ctype} ${m.name}${dims(m.count)}`;
    case 'struct':
      return `struct ${m.struct} ${m.name}${dims(m.count)}`;
    case 'pointer':
      return `char *${m.name}`;
    case 'spin_lock':
      return `struct bpf_spin_lock ${m.name}`;
    case 'kptr':
      return `struct ${m.pointee} __kptr *${m.name}`;
  }
}

/** Structs in an order where every `struct` member's type comes first; stable otherwise. */
function dependencyOrder(scenarioId: string, structs: readonly StructType[]): StructType[] {
  const byName = new Map(structs.map((t) => [t.name, t]));
  if (byName.size !== structs.length) throw scenarioInvalid(scenarioId, 'two structs share a name');
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: StructType[] = [];
  const visit = (t: StructType): void => {
    if (done.has(t.name)) return;
    if (visiting.has(t.name)) throw scenarioInvalid(scenarioId, `struct ${t.name} contains itself`);
    visiting.add(t.name);
    for (const m of t.members) {
      const needed = m.kind === 'struct' ? m.struct : m.kind === 'kptr' ? m.pointee : null;
      if (needed === null) continue;
      const dep = byName.get(needed);
      if (!dep) throw scenarioInvalid(scenarioId, `struct ${t.name} member ${m.name} names undefined struct ${needed}`);
      // a kptr member is a pointer: its pointee may come later (it has its own anchor)
      if (m.kind === 'struct') visit(dep);
    }
    visiting.delete(t.name);
    done.add(t.name);
    out.push(t);
  };
  structs.forEach(visit);
  return out;
}
