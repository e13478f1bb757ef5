import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { bpfClangArgs, CLANG } from '../../../../compile/codegen/compileBpf.ts';

/**
 * Compiles `source` exactly as compileBpf does, but returns clang's stderr too, so tests can
 * assert that generated C compiles without a single warning.
 */
export async function compileWithDiagnostics(source: string, dir: string, name: string): Promise<{ object: string; stderr: string }> {
  await mkdir(dir, { recursive: true });
  const cFile = join(dir, `${name}.bpf.c`);
  const object = join(dir, `${name}.bpf.o`);
  await writeFile(cFile, source);
  await copyFile(fileURLToPath(new URL('../../../../compile/codegen/kptr.h', import.meta.url)), join(dir, 'kptr.h'));
  const { stderr } = await execa(CLANG, bpfClangArgs(cFile, object, dir));
  return { object, stderr };
}

/** BTF of an object as bpftool's JSON: `{ types: [{ id, kind, name, ... }] }`. */
export interface BtfType {
  readonly id: number;
  readonly kind: string;
  readonly name: string;
  readonly type_id?: number;
  readonly members?: readonly { readonly name: string; readonly type_id: number }[];
  readonly vars?: readonly { readonly type_id: number }[];
  readonly linkage?: string;
}

export async function btfTypes(object: string): Promise<BtfType[]> {
  const { stdout } = await execa('bpftool', ['-j', 'btf', 'dump', 'file', object]);
  return (JSON.parse(stdout) as { types: BtfType[] }).types;
}
