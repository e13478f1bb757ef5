import type { GlobalVar, ProgType, Program, StatePairTarget } from '../../types/index.ts';
import { isSleepable } from '../../types/index.ts';
import { breakVariants } from './breakVariants.ts';
import { Choices } from './Choices.ts';
import { weightedIndex, weightOf } from './SequenceCommand.ts';
import { SequenceState, type ProgramContext } from './SequenceState.ts';
import { reachPair } from './targetPairs.ts';
import { canStep, validStep } from './validCommands.ts';

/** One deliberate rule break: which rule, after how many chosen steps, which variant (modulo the applicable ones). */
export interface BreakPlan {
  readonly rule: string;
  readonly at: number;
  readonly variant: number;
}

/** The data a program is built from; every field shrinks (fewer choices = a shorter program). */
export interface ProgramPlan {
  readonly name: string;
  readonly progType: ProgType;
  readonly choices: readonly number[];
  readonly breaks: readonly BreakPlan[];
  /** skip a break no variant of which applies here (mixtures), instead of failing */
  readonly lenient: boolean;
  /** a state pair to reach first (its program type is the plan's); a forbidden one is the program's break */
  readonly target?: StatePairTarget;
}

export interface BuiltProgram {
  readonly program: Program;
  readonly globals: readonly GlobalVar[];
  /** `rule/variant` of each break performed, for the scenario description */
  readonly notes: readonly string[];
}

/**
 * Interprets a list of small integers as a program: each choice selects one of the valid commands that apply to the
 * current {@link SequenceState} (validCommands.ts, weighted), parameters take the following choices, and the end of
 * the list closes the program (references released, rcu lock dropped). Shrinking the choices therefore shrinks the
 * program and every prefix stays valid. Breaks (breakVariants.ts) are spliced in at top level and then the build
 * continues validly.
 */
class ProgramBuilder {
  private readonly st: SequenceState;
  private readonly choices: Choices;
  private readonly notes: string[] = [];

  constructor(
    private readonly ctx: ProgramContext,
    private readonly plan: ProgramPlan,
    firstGlobal: number,
  ) {
    this.st = new SequenceState(ctx, isSleepable(plan.progType), firstGlobal);
    this.choices = new Choices(plan.choices);
  }

  build(): BuiltProgram {
    const { st, choices } = this;
    const pending = [...this.plan.breaks].sort((a, b) => a.at - b.at);
    const target = this.plan.target;
    if (pending.length > 0 || target !== undefined) for (const s of this.ctx.slots) if (st.validLookup(s)) st.lookup(s.name);
    if (target !== undefined) {
      reachPair(st, choices, target);
      this.notes.push(`target ${target.op} ${target.state}`);
    }
    while (canStep(st, choices)) {
      while (pending.length > 0 && (pending[0]?.at ?? 0) <= choices.steps) this.doBreak(pending.shift() as BreakPlan);
      validStep(st, choices);
    }
    for (const b of pending) this.doBreak(b);
    st.closeAll();
    if ((this.plan.progType === 'tc' || this.plan.progType === 'syscall') && choices.pick(5) === 1) st.exit(1);
    return { program: st.program(this.plan.name, this.plan.progType), globals: st.globals, notes: this.notes };
  }

  /** The break's variant among those whose check passes here (they weigh the same: the variant number modulo their count). */
  private doBreak(b: BreakPlan): void {
    const variants = breakVariants(b.rule).filter((v) => v.check(this.st, null));
    const v = variants[weightedIndex(variants.map((x) => weightOf(x, this.st, null)), variants.length, b.variant)];
    if (v === undefined && this.plan.lenient) return;
    if (v === undefined) throw new Error(`ProgramBuilder: no variant of ${b.rule} applies to ${this.plan.progType}`);
    v.run(this.st, this.choices, null);
    this.notes.push(`${b.rule}/${v.name}`);
  }
}

/** Build one program from its plan; `firstGlobal` numbers its result globals after the previous programs'. */
export function buildProgram(ctx: ProgramContext, plan: ProgramPlan, firstGlobal: number): BuiltProgram {
  return new ProgramBuilder(ctx, plan, firstGlobal).build();
}
