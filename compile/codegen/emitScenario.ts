import type { Program, Scenario } from '../../types/index.ts';
import { cCommentText, cString } from './cLiteral.ts';
import { emitProgram } from './emitProgram.ts';
import { emitSlots } from './emitSlots.ts';
import { emitStructs } from './emitStructs.ts';

/**
 * The C of one scenario after the prelude: its structs (with anchors), slot storage, result
 * globals (plain .bss, which the harness reads through the mmap), and programs. `annotations`
 * gives the lines placed between a program's SEC() and its signature.
 */
export function emitScenario(s: Scenario, annotations: (p: Program) => readonly string[]): string[] {
  return [
    `/* scenario ${s.id}: ${cCommentText(s.description)} */`,
    ...emitStructs(s.id, s.structs),
    '',
    ...emitSlots(s.slots),
    ...s.globals.map((g) => `${g.ctype} ${g.name};`),
    ...(s.globals.length > 0 ? [''] : []),
    ...s.programs.flatMap((p) => [...emitProgram(s, p, annotations(p)), '']),
  ];
}

/**
 * What every object starts with: the header, its one license, and `nr_cpus` in .rodata
 * (the harness sets it to libbpf_num_possible_cpus() before load).
 */
export function emitPrelude(license: string, comment: string): string[] {
  return [
    `/* ${cCommentText(comment)} */`,
    '#include "kptr.h"',
    '',
    `char _license[] SEC("license") = ${cString(license)};`,
    'const volatile __u32 nr_cpus;',
    '',
  ];
}
