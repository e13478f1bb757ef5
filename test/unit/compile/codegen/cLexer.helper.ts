/**
 * Translation phases 1–3 of C as clang runs them, for tests that check what a generated file's text can do:
 * trigraphs (phase 1, on under -trigraphs or -std=c89/c99), line splices (phase 2: a backslash, optional
 * horizontal white space, then LF, CR LF or a lone CR, as clang accepts them), then comments and string literals.
 */

const TRIGRAPHS: Readonly<Record<string, string>> = { '=': '#', '(': '[', '/': '\\', ')': ']', "'": '^', '<': '{', '!': '|', '>': '}', '-': '~' };

/** The source after phases 1 and 2. */
function spliced(source: string): string {
  return source.replace(/\?\?([=(/)'<!>-])/g, (_, c: string) => TRIGRAPHS[c]!).replace(/\\[ \t\f\v]*(\r\n|\r|\n)/g, '');
}

export interface Lexed {
  /** the text outside comments, each comment replaced by one space */
  readonly code: string;
  readonly comments: readonly string[];
  /** string literals outside comments, as written (with quotes) */
  readonly strings: readonly string[];
}

/** Splits `source` into code, comments and string literals; throws on an unterminated comment or literal. */
export function lexC(source: string): Lexed {
  const s = spliced(source);
  let code = '';
  const comments: string[] = [];
  const strings: string[] = [];
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('/*', i)) {
      const end = s.indexOf('*/', i + 2);
      if (end < 0) throw new Error(`unterminated comment at ${i}`);
      comments.push(s.slice(i + 2, end));
      code += ' ';
      i = end + 2;
    } else if (s.startsWith('//', i)) {
      const end = s.slice(i).search(/[\r\n]/);
      const stop = end < 0 ? s.length : i + end;
      comments.push(s.slice(i + 2, stop));
      code += ' ';
      i = stop;
    } else if (s[i] === '"' || s[i] === "'") {
      const quote = s[i]!;
      let j = i + 1;
      while (j < s.length && s[j] !== quote) {
        if (s[j] === '\r' || s[j] === '\n') throw new Error(`line end inside a literal at ${j}`);
        j += s[j] === '\\' ? 2 : 1;
      }
      if (j >= s.length) throw new Error(`unterminated literal at ${i}`);
      const literal = s.slice(i, j + 1);
      if (quote === '"') strings.push(literal);
      code += literal;
      i = j + 1;
    } else {
      code += s[i];
      i += 1;
    }
  }
  return { code, comments, strings };
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { n: 10, t: 9, r: 13, '\\': 92, '"': 34, "'": 39, '?': 63, a: 7, b: 8, f: 12, v: 11 };

/** The bytes a string literal (as lexC returns it) holds. */
export function decodeCString(literal: string): Buffer {
  const body = Buffer.from(literal.slice(1, -1), 'latin1');
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    const next = String.fromCharCode(body[i + 1]!);
    if (/[0-7]/.test(next)) {
      const oct = /^[0-7]{1,3}/.exec(body.subarray(i + 1, i + 4).toString('latin1'))![0];
      out.push(parseInt(oct, 8));
      i += oct.length;
    } else if (next === 'x') {
      const hex = /^[0-9a-fA-F]+/.exec(body.subarray(i + 2).toString('latin1'))![0];
      out.push(parseInt(hex, 16));
      i += 1 + hex.length;
    } else {
      const value = SIMPLE_ESCAPES[next];
      if (value === undefined) throw new Error(`unknown escape \\${next}`);
      out.push(value);
      i += 1;
    }
  }
  return Buffer.from(out);
}
