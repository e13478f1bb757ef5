import type { BpfProgType } from './objectSpec.ts';

/** What libbpf's section_defs say about a program section name (libbpf.c SEC_DEF), for the types these objects use. */
export interface ProgramSection {
  readonly progType: BpfProgType;
  readonly attachType: 'BPF_TRACE_FENTRY' | null;
  readonly attachTo: string | null;
  readonly sleepable: boolean;
  readonly autoload: boolean;
}

/**
 * `?tc`, `tc`, `classifier`, `syscall`, `fentry/<fn>`, `fentry.s/<fn>` (a leading `?`: not autoloaded), or null for a
 * name libbpf would not know a program type for here.
 */
export function programSection(section: string): ProgramSection | null {
  const autoload = !section.startsWith('?');
  const name = autoload ? section : section.slice(1);
  if (name === 'tc' || name.startsWith('tc/') || name === 'classifier' || name.startsWith('classifier/')) {
    return { progType: 'BPF_PROG_TYPE_SCHED_CLS', attachType: null, attachTo: null, sleepable: false, autoload };
  }
  // SEC_DEF("syscall", SYSCALL, 0, SEC_SLEEPABLE)
  if (name === 'syscall') return { progType: 'BPF_PROG_TYPE_SYSCALL', attachType: null, attachTo: null, sleepable: true, autoload };
  const fentry = /^fentry(\.s)?\/(.+)$/.exec(name);
  if (fentry) {
    return { progType: 'BPF_PROG_TYPE_TRACING', attachType: 'BPF_TRACE_FENTRY', attachTo: fentry[2] as string, sleepable: fentry[1] !== undefined, autoload };
  }
  return null;
}
