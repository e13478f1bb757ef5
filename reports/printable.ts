/**
 * Text that came from a kernel or a guest (observed values, splats, console lines), made safe to print on a
 * terminal: control characters other than newline and tab (escape sequences, a guest's terminal reset `ESC c`) are
 * shown as `\xNN` instead of acting on the user's terminal. Files keep the text as it came.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
