/**
 * A program plan's list of small integers, read front to back: each step takes one to choose its command, and the
 * commands take the following ones for their parameters. Past the end every choice is 0, which is also what shrinking
 * tends to, and a shorter list is a shorter program.
 */
export class Choices {
  private cursor = 0;
  private chosen = 0;

  constructor(private readonly list: readonly number[]) {}

  /** Next choice modulo n; n ≤ 1 takes none. */
  pick(n: number): number {
    if (n <= 1) return 0;
    const c = this.list[this.cursor++] ?? 0;
    return c % n;
  }

  pickOf<T>(xs: readonly T[]): T {
    const x = xs[this.pick(xs.length)];
    if (x === undefined) throw new Error('Choices.pickOf: empty list');
    return x;
  }

  /** The choice of the next command, taken whatever the number of options (a step always moves the cursor on). */
  nextCommand(): number {
    this.chosen++;
    return this.list[this.cursor++] ?? 0;
  }

  /** Commands chosen so far, nested ones included (a break is placed after a number of them). */
  get steps(): number {
    return this.chosen;
  }

  exhausted(): boolean {
    return this.cursor >= this.list.length;
  }

  /** Ends the list: what follows is only the breaks still pending and the cleanup. */
  halt(): void {
    this.cursor = this.list.length;
  }
}
