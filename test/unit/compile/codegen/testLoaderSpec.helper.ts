import type { BtfType } from './clangOutput.helper.ts';

/**
 * What upstream's test_loader.c (tools/testing/selftests/bpf, master of 2026) reads from one program's BTF decl tags,
 * read the way its parse_test_spec does: the DECL_TAGs on the program's FUNC with component_idx -1
 * (collect_decl_tags), sorted with strverscmp, each stripped of its `comment:<__COUNTER__>:` prefix
 * (skip_decl_tag_pfx: a tag without one is ignored), then matched by prefix.
 */
export interface TestLoaderSpec {
  readonly description: string | null;
  readonly expectFailure: boolean;
  readonly msgs: readonly string[];
  /** parse_retval: decimal, 0x hex or _INT_MIN; null when no __retval (the program is not executed) */
  readonly retval: number | null;
  /** tags that carry no `comment:<n>:` prefix, which test_loader skips */
  readonly ignored: readonly string[];
}

/** glibc strverscmp on the tags' shape `comment:<digits>:…`: digit runs compare as numbers. */
function versionCompare(a: string, b: string): number {
  const split = (s: string): (string | number)[] => s.split(/(\d+)/).map((part, i) => (i % 2 === 1 ? Number(part) : part));
  const [x, y] = [split(a), split(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    return typeof x[i] === 'number' && typeof y[i] === 'number' ? (x[i] as number) - (y[i] as number) : String(x[i]) < String(y[i]) ? -1 : 1;
  }
  return x.length - y.length;
}

function parseRetval(value: string): number {
  if (value === '_INT_MIN') return -0x80000000;
  const n = value.startsWith('0x') ? Number.parseInt(value.slice(2), 16) : Number(value);
  if (!/^(0x[0-9a-fA-F]+|-?\d+)$/.test(value) || !Number.isSafeInteger(n)) throw new Error(`failed to parse __retval from '${value}'`);
  return n;
}

export function testLoaderSpec(types: readonly (BtfType & { component_idx?: number })[], program: string): TestLoaderSpec {
  const func = types.find((t) => t.kind === 'FUNC' && t.name === program);
  if (func === undefined) throw new Error(`failed to find FUNC BTF type for '${program}'`);
  const tags = types.filter((t) => t.kind === 'DECL_TAG' && t.type_id === func.id && t.component_idx === -1).map((t) => t.name).sort(versionCompare);
  let description: string | null = null;
  let expectFailure = false;
  let retval: number | null = null;
  const msgs: string[] = [];
  const ignored: string[] = [];
  for (const tag of tags) {
    const m = /^comment:\d+:(.*)$/s.exec(tag);
    if (m === null) {
      ignored.push(tag);
      continue;
    }
    const s = m[1]!;
    if (s.startsWith('test_description=')) description = s.slice('test_description='.length);
    else if (s === 'test_expect_failure') expectFailure = true;
    else if (s === 'test_expect_success') expectFailure = false;
    else if (s.startsWith('test_expect_msg=')) msgs.push(s.slice('test_expect_msg='.length));
    else if (s.startsWith('test_retval=')) retval = parseRetval(s.slice('test_retval='.length));
  }
  return { description, expectFailure, msgs, retval, ignored };
}
