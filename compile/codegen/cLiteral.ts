/**
 * The one home for free text (scenario descriptions, rule ids, verifier messages, finding titles) in generated C:
 * every emitter (batch .bpf.c, repro.bpf.c, repro_check.c) writes text only through these two functions. Their
 * output is printable ASCII in which no byte sequence can end the literal or comment early: no line end (LF, CR),
 * no backslash that could splice lines (`\` + CR or white space + newline), no `?` that could start the `??/`
 * trigraph, no NUL, and in comments no `*` (so no `*\/`, and no `/*` for -Wcomment).
 */

/** `\xNN` per UTF-8 byte: plain text, never a C escape a compiler acts on inside a comment. */
function hexBytes(ch: string): string {
  return [...Buffer.from(ch, 'utf8')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
}

/** Characters a comment shows as they are: printable ASCII except `\`, `*` and `?`. */
const COMMENT_SAFE = /^[\x20-\x29\x2b-\x3e\x40-\x5b\x5d-\x7e]$/;

/**
 * Text for the inside of a C block comment: printable ASCII stays, anything else (`\`, `*`, `?`, control
 * characters, non-ASCII) becomes `\xNN` text per UTF-8 byte, so the comment ends only where the emitter ends it.
 */
export function cCommentText(text: string): string {
  let out = '';
  for (const ch of text) out += COMMENT_SAFE.test(ch) ? ch : hexBytes(ch);
  return out;
}

/**
 * A C string literal (with quotes) holding the UTF-8 bytes of `text` exactly; `{{regex}}` and other printable
 * characters pass through. Octal escapes are at most 3 digits, so a digit after one cannot extend it.
 */
export function cString(text: string): string {
  let out = '"';
  for (const ch of Buffer.from(text, 'utf8')) {
    if (ch === 0x22) out += '\\"';
    else if (ch === 0x5c) out += '\\\\';
    else if (ch === 0x3f) out += '\\?';
    else if (ch === 0x0a) out += '\\n';
    else if (ch === 0x09) out += '\\t';
    else if (ch < 0x20 || ch >= 0x7f) out += `\\${ch.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(ch);
  }
  return `${out}"`;
}
