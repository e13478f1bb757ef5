/** reg_type_str (kernel/bpf/log.c): how the verifier names a register type in messages. */
import {
  type BaseType, MEM_PERCPU, MEM_RCU, MEM_RDONLY, PTR_MAYBE_NULL, PTR_TRUSTED, PTR_UNTRUSTED,
} from './state.ts';

const STR: Record<BaseType, string> = {
  NOT_INIT: '?',
  SCALAR_VALUE: 'scalar',
  PTR_TO_CTX: 'ctx',
  CONST_PTR_TO_MAP: 'map_ptr',
  PTR_TO_MAP_VALUE: 'map_value',
  PTR_TO_STACK: 'fp',
  PTR_TO_BTF_ID: 'ptr_',
  PTR_TO_MEM: 'mem',
};

export function regTypeStr(type: BaseType, flags: number): string {
  if (type === 'SCALAR_VALUE' || type === 'NOT_INIT') return STR[type];
  let prefix = '';
  if (flags & MEM_RDONLY) prefix += 'rdonly_';
  if (flags & MEM_PERCPU) prefix += 'percpu_';
  if (flags & MEM_RCU) prefix += 'rcu_';
  if (flags & PTR_UNTRUSTED) prefix += 'untrusted_';
  if (flags & PTR_TRUSTED) prefix += 'trusted_';
  const postfix = flags & PTR_MAYBE_NULL ? (type === 'PTR_TO_BTF_ID' ? 'or_null_' : '_or_null') : '';
  return prefix + STR[type] + postfix;
}
