import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitReproCheck } from '../../../../reports/emitReproCheck.ts';
import { cCommentText, cString } from '../../../../compile/codegen/cLiteral.ts';
import { bpfClangArgs, CLANG } from '../../../../compile/codegen/compileBpf.ts';
import { emitBatch, emitReproducer } from '../../../../compile/codegen/emit.ts';
import type { Scenario } from '../../../../types/index.ts';
import { prediction, scenario } from '../../reports/fixtures/cases.ts';
import { compileWithDiagnostics } from './clangOutput.helper.ts';
import { decodeCString, lexC } from './cLexer.helper.ts';

// Scenario files are untrusted: a description is free text that lands in a C comment of every emitted file. On no
// byte sequence may it leave that comment (line splices with CR, backslash-space, trigraphs, `*/`) or reach the
// preprocessor.

/** Pieces that have ended a comment or a literal in some C front end, mixed into arbitrary unicode. */
const NASTY = ['\r', '\n', '\r\n', '\\', '\\\r', '\\\n', '\\ \n', '*', '/', '*/', '/*', '//', '??/', '??', '?', '\0', '\u2028', '\u2029', '"', "'", '#', '#error x', '\uD800', '\uDFFF'];
const text = fc.array(fc.oneof(fc.constantFrom(...NASTY), fc.string({ unit: 'binary' }), fc.string({ unit: 'binary-ascii' }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) })), { maxLength: 12 }).map((parts) => parts.join(''));

const withDescription = (description: string): Scenario => ({ ...scenario, description });

/** The three files a scenario's text reaches, each as a function of the description. */
const EMITTERS: readonly (readonly [string, (description: string) => string])[] = [
  ['the batch .bpf.c', (d) => emitBatch([withDescription(d)]).source],
  ['repro.bpf.c', (d) => emitReproducer(withDescription(d), [{ program: 'rp1_store', description: 'rp', expect: { verdict: 'accepted', retval: 3 } }])],
  ['repro_check.c', (d) => emitReproCheck(withDescription(d), prediction(), `finding rp: ${d}`)],
];

describe('cCommentText', () => {
  it('should give printable ASCII that one block comment holds whole, whatever the text', () => {
    fc.assert(fc.property(text, (t) => {
      const out = cCommentText(t);
      expect(out).toMatch(/^[\x20-\x7e]*$/);
      expect(out).not.toMatch(/\*\/|\/\*|\?\?|\\(?!x[0-9a-f]{2})/);
      expect(lexC(`/* ${out} */`)).toEqual({ code: ' ', comments: [` ${out} `], strings: [] });
    }));
  });

  it('should keep readable text as it is and spell out the rest', () => {
    expect(cCommentText('store a per-CPU object, write on CPU 0 (tc)')).toBe('store a per-CPU object, write on CPU 0 (tc)');
    expect(cCommentText('a */ b\\\r\nc??/ é')).toBe('a \\x2a/ b\\x5c\\x0d\\x0ac\\x3f\\x3f/ \\xc3\\xa9');
  });
});

describe('cString', () => {
  it('should give one string literal holding exactly the UTF-8 bytes of the text', () => {
    fc.assert(fc.property(text, (t) => {
      const literal = cString(t);
      expect(literal).toMatch(/^"[\x20-\x7e]*"$/);
      const lexed = lexC(`x = ${literal};`);
      expect(lexed.code).toBe(`x = ${literal};`);
      expect(lexed.strings).toEqual([literal]);
      expect(decodeCString(literal)).toEqual(Buffer.from(t, 'utf8'));
    }));
  });
});

describe.each(EMITTERS)('%s', (_, emit) => {
  it('should keep every description inside its comment: the code outside comments does not depend on it', () => {
    const plain = lexC(emit('plain'));
    fc.assert(fc.property(text, (t) => {
      const source = emit(t);
      expect(source).not.toMatch(/[\0\r\u2028\u2029]/);
      const lexed = lexC(source);
      expect(lexed.code).toBe(plain.code);
      expect(lexed.comments).toHaveLength(plain.comments.length);
    }));
  });
});

describe('emitted C under clang-16', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kptr-inject-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Descriptions that ended the comment early before cCommentText spelled out `\`, `*` and `?`. */
  const PAYLOADS = [
    'x *\\\r/ int injected_by_desc = 1; /* y',
    'x *\\\r/\r#error injected_by_error\r/* y',
    'x *\\\n/ int injected_by_lf = 1; /* y',
    'x *\\ \n/ int injected_by_space = 1; /* y',
    'x *??/\n/ int injected_by_trigraph = 1; /* y',
    'x */ int injected_plain = 1; /* y',
  ];

  /** `clang -E` (trigraphs on, so `??/` counts too): what reaches the compiler proper. */
  async function preprocessed(file: string, args: readonly string[]): Promise<string> {
    const { stdout } = await execa(CLANG, ['-E', '-trigraphs', ...args, file]);
    return stdout;
  }

  it.each(PAYLOADS)('should compile batch and reproducer C described %j into objects with no injected symbol', async (payload) => {
    for (const [name, emit] of EMITTERS.slice(0, 2)) {
      const base = name.replace(/\W/g, '_');
      const { object } = await compileWithDiagnostics(emit(payload), dir, base);
      const { stdout: symbols } = await execa('llvm-nm-16', [object]);
      expect(symbols).toContain('rp1_store');
      expect(symbols).not.toContain('injected');
      const cFile = join(dir, `${base}.bpf.c`);
      const includes = bpfClangArgs(cFile, join(dir, 'unused.o'), dir).filter((a) => a.startsWith('-I'));
      expect(await preprocessed(cFile, ['-target', 'bpf', ...includes])).not.toContain('injected');
    }
  });

  it('should keep arbitrary text around a C declaration out of the preprocessed batch C', async () => {
    const cFile = join(dir, 'random.bpf.c');
    const includes = bpfClangArgs(cFile, join(dir, 'unused.o'), dir).filter((a) => a.startsWith('-I'));
    await fc.assert(fc.asyncProperty(text, text, async (before, after) => {
      await compileWithDiagnostics(EMITTERS[0]![1](`${before}*/ int injected_fc = 1; /*${after}`), dir, 'random');
      expect(await preprocessed(cFile, ['-target', 'bpf', ...includes])).not.toContain('injected');
    }), { numRuns: 8 });
  });

  it('should keep hostile finding titles out of repro_check.c\'s preprocessed text', async () => {
    const file = join(dir, 'repro_check.c');
    await writeFile(file, EMITTERS[2]![1](PAYLOADS.join(' | ')));
    const out = await preprocessed(file, []);
    expect(out).toContain('rp1_store');
    expect(out).not.toContain('injected');
  });
});
