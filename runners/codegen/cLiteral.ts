/** A C string literal (with quotes) holding `text` exactly; `{{regex}}` and other characters pass through. */
export function cString(text: string): string {
  let out = '"';
  for (const ch of Buffer.from(text, 'utf8')) {
    if (ch === 0x22) out += '\\"';
    else if (ch === 0x5c) out += '\\\\';
    else if (ch === 0x0a) out += '\\n';
    else if (ch === 0x09) out += '\\t';
    // octal escapes are at most 3 digits, so a digit after one cannot extend it
    else if (ch < 0x20 || ch >= 0x7f) out += `\\${ch.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(ch);
  }
  return `${out}"`;
}

/** Text for a C block comment: `*\/` would end it early. */
export function cCommentText(text: string): string {
  return text.replaceAll('*/', '* /').replaceAll('\n', ' ');
}
