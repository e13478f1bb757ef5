/**
 * A guest's channel serial line (ttyS1), read back as text. Pure. Its kernel console (ttyS0) is read by
 * runners/kernelLog.ts, as the host's /dev/kmsg is.
 *
 * The channel carries only lines the guest's /init framed: `@@KPTR <seq> <kind> <payload>`, seq counting
 * 1, 2, 3 … over the whole boot. Kinds: `begin <batch>`, `case <unit>`, `out <harness JSON line>`,
 * `err <harness stderr line>`, `exit <unit> <status>`, `end <batch>`. A unit is one harness run over a set of
 * scenarios of one object. Anything else on the line or between lines is ignored, so results are never scraped
 * from free text.
 */

export const FRAME_TAG = '@@KPTR';

/** What the channel says about one unit (one harness run). */
export interface ChannelCase {
  readonly unit: string;
  /** harness stdout lines (JSON), in order */
  readonly out: readonly string[];
  /** harness stderr lines */
  readonly err: readonly string[];
  /** harness exit status; null when the case never finished (panic, hang, power loss) */
  readonly exitStatus: number | null;
}

export interface Channel {
  /** the batch id of the `begin` frame, null if /init never got that far */
  readonly batch: string | null;
  readonly ended: boolean;
  readonly cases: readonly ChannelCase[];
  /** frames missing from the sequence, or unreadable: nonzero means the channel cannot be trusted in full */
  readonly lost: number;
}

const FRAME = new RegExp(`${FRAME_TAG} (\\d+) (begin|case|out|err|exit|end)(?: (.*))?$`);

/** Parses the ttyS1 text. Frames out of sequence (repeated or going back) are dropped and counted as lost. */
export function parseChannel(text: string): Channel {
  let batch: string | null = null;
  let ended = false;
  let lost = 0;
  let seq = 0;
  const cases: { unit: string; out: string[]; err: string[]; exitStatus: number | null }[] = [];
  // A torn last line (the guest died mid-write) has no newline: drop it.
  const lines = text.split('\n').slice(0, -1);
  for (const raw of lines) {
    const at = raw.indexOf(FRAME_TAG);
    if (at < 0) continue;
    const m = FRAME.exec(raw.slice(at).replace(/\r+$/, ''));
    if (!m) {
      lost++;
      continue;
    }
    const n = Number(m[1]);
    if (n <= seq) {
      lost++;
      continue;
    }
    lost += n - seq - 1;
    seq = n;
    const kind = m[2];
    const payload = m[3] ?? '';
    const current = cases.at(-1);
    if (kind === 'begin') batch = payload;
    else if (kind === 'end') ended = true;
    else if (kind === 'case') cases.push({ unit: payload, out: [], err: [], exitStatus: null });
    else if (kind === 'out' && current) current.out.push(payload);
    else if (kind === 'err' && current) current.err.push(payload);
    else if (kind === 'exit' && current) {
      const [id, status] = payload.split(' ');
      if (id === current.unit) current.exitStatus = Number(status);
    }
  }
  return { batch, ended, cases, lost };
}
