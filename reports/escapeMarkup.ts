/** Characters XML 1.0 forbids, as a regex class body: NUL and the other C0 controls but tab, newline and CR; U+FFFE, U+FFFF. */
const FORBIDDEN = '\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\uFFFE\\uFFFF';
const FORBIDDEN_ALL = new RegExp(`[${FORBIDDEN}]`, 'g');
/** Characters escapeMarkup changes: the forbidden ones and the five markup characters; in attributes tab, newline and CR too. */
const ESCAPED = new RegExp(`[${FORBIDDEN}&<>"']`);
const ESCAPED_IN_ATTRIBUTE = new RegExp(`[${FORBIDDEN}\\t\\n\\r&<>"']`);

/**
 * Escape text for XML and HTML, in element content or (inAttribute) a double-quoted attribute. Characters XML 1.0
 * forbids (NUL and the other C0 controls except tab, newline, carriage return) become U+FFFD: verifier logs and
 * splats are raw kernel bytes. In attributes newlines become `&#10;` so a parser does not fold them into spaces.
 */
export function escapeMarkup(text: string, inAttribute = false): string {
  // most text (names, numbers, many logs) needs nothing: one test instead of eight replaces
  if (!(inAttribute ? ESCAPED_IN_ATTRIBUTE : ESCAPED).test(text)) return text;
  const escaped = text
    .replace(FORBIDDEN_ALL, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
  return inAttribute ? escaped.replace(/\r/g, '&#13;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;') : escaped;
}

/**
 * `value` as JSON for the body of a `<script type="application/json">` element: `<`, `>` and `&` (and the two line
 * separators JavaScript once refused in strings) as `\uXXXX` escapes, so no string in it (a kernel log, a scenario's
 * name) can close the element or open a comment; JSON.parse of the element's text gives `value` back.
 */
export function jsonInScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
