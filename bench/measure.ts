// What every figure of `npm run bench` shares: its shape, and how a side of a ratio is timed.

/** A figure; one with no target is informational (a cost to know, not a goal). */
export interface Figure { id: string; measure: string; value: string; target?: string; met?: boolean }

/** How long fn takes, in seconds. */
export async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
