import { btfType } from './skipModifiers.ts';
import type { Btf } from './kinds.ts';

/** The type's own name, as the kernel's btf_type_name (the verifier builds `percpu_ptr_val_t` from it); '' if anonymous. */
export function typeName(btf: Btf, id: number): string {
  return btfType(btf, id).name;
}

/**
 * The type as C spells it (an abstract declarator), as bpftool's C dump writes it: `struct val_t`, `int *`,
 * `char [4]`, `const volatile __u32`, `int (*)[2]`, `struct val_t __attribute__((btf_type_tag("percpu_kptr"))) *`.
 * The verifier's kfunc messages print a pointee as kind + name (btf_type_str), which is `struct val_t` here.
 */
export function cTypeName(btf: Btf, id: number): string {
  return declare(btf, id, '').trim();
}

/** `inner` is the declarator built so far (`*`, `[3]`, `(*)[2]`), placed around the base type as C does. */
function declare(btf: Btf, id: number, inner: string): string {
  const t = btfType(btf, id);
  const named = (tag: string): string => `${tag} ${t.name === '' ? '(anon)' : t.name}`;
  const base = (s: string): string => (inner === '' ? s : `${s} ${inner}`);
  switch (t.kind) {
    case 'VOID':
      return base('void');
    case 'INT':
    case 'FLOAT':
    case 'TYPEDEF':
      return base(t.name);
    case 'STRUCT':
    case 'UNION':
      return base(named(t.kind === 'STRUCT' ? 'struct' : 'union'));
    case 'ENUM':
    case 'ENUM64':
      return base(named('enum'));
    case 'FWD':
      return base(named(t.fwdKind));
    case 'PTR': {
      const target = btfType(btf, t.type);
      return declare(btf, t.type, target.kind === 'ARRAY' || target.kind === 'FUNC_PROTO' ? `(*${inner})` : `*${inner}`);
    }
    case 'CONST':
    case 'VOLATILE':
    case 'RESTRICT': {
      const q = t.kind.toLowerCase();
      // a qualified pointer is `int *const`, a qualified value `const int`
      if (btfType(btf, t.type).kind === 'PTR') return declare(btf, t.type, inner === '' ? q : `${q} ${inner}`);
      return `${q} ${declare(btf, t.type, inner)}`;
    }
    case 'TYPE_TAG':
      return declare(btf, t.type, `__attribute__((btf_type_tag("${t.name}")))${inner === '' ? '' : ` ${inner}`}`);
    case 'ARRAY':
      return declare(btf, t.type, `${inner}[${t.nelems}]`);
    case 'FUNC_PROTO':
      return declare(btf, t.returnType, `${inner}(${t.params.map((p) => (p.type === 0 ? '...' : cTypeName(btf, p.type))).join(', ') || 'void'})`);
    case 'FUNC':
    case 'VAR':
    case 'DECL_TAG':
      return declare(btf, t.type, inner);
    case 'DATASEC':
      return base(`SEC("${t.name}")`);
  }
}
