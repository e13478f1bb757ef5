/**
 * The verification environment of one program (struct bpf_verifier_env): the program, the kernel profile, the
 * current state, the id generator (global across paths, as env->id_gen), and how errors leave the walk.
 */
import type { VerifierProgram } from './input.ts';
import { type Profile, fillLine } from './profile.ts';
import { regTypeStr } from './regTypeStr.ts';
import type { RegState, VerifierState } from './state.ts';

/** The first error of the walk, in the profile's words (thrown to unwind, caught by verifyProgram). */
export class VerifierReject {
  constructor(
    readonly site: string,
    readonly params: Readonly<Record<string, string | number>>,
  ) {}
}

/** Something this model does not cover: a verdict of its own, never a guess. */
export class VerifierUnsupported {
  constructor(readonly reason: string) {}
}

export interface Env {
  readonly prog: VerifierProgram;
  readonly profile: Profile;
  cur: VerifierState;
  insnIdx: number;
  idGen: number;
  /** root with CAP_PERFMON: released pointers become scalars, not NOT_INIT */
  readonly allowPtrLeaks: boolean;
  /** stack slots read at each instruction, as observed (for liveness) */
  noteStackRead(slot: number): void;
  /** push_stack: queue a copy of `st` to be explored from `insn` */
  push(st: VerifierState, insn: number): void;
  /** the checkpoint at `insn` before the current one on this path (for widening at iter_next) */
  previousCheckpointState(insn: number): VerifierState | null;
}

export const reject = (site: string, params: Readonly<Record<string, string | number>> = {}): never => {
  throw new VerifierReject(site, params);
};

export const unsupported = (reason: string): never => {
  throw new VerifierUnsupported(reason);
};

export const typeStr = (r: RegState): string => regTypeStr(r.type, r.flags);

/** check_reg_arg(SRC_OP). */
export function readReg(env: Env, regno: number): RegState {
  const r = env.cur.regs[regno]!;
  if (r.type === 'NOT_INIT') reject('reg_not_init', { regno });
  return r;
}

export function setReg(env: Env, regno: number, r: RegState): void {
  if (regno === 10) reject('fp_readonly');
  env.cur.regs[regno] = r;
}

/** The text of a site for the log: its lines filled in, with 7.3's report after the first. */
export function siteLines(profile: Profile, site: string, params: Readonly<Record<string, string | number>>): string[] {
  const m = profile.messages[site];
  if (m === undefined) throw new Error(`profile ${profile.kernel} has no message for site ${site}`);
  if (m === null) return [];
  const lines = m.lines.map((l) => fillLine(l, params));
  if (m.report !== null) lines.splice(1, 0, `Verification failed: ${m.report}`);
  return lines;
}

