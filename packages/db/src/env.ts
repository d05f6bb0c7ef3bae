/**
 * A count (milliseconds, connections) from an environment variable, or its default when unset. Anything
 * else is refused, naming the variable: Number('8s') is NaN, which would quietly turn a limit off.
 */
export function countFromEnv(name: string, unit: string, fallback: number, min: number, env: NodeJS.ProcessEnv = process.env): number {
  const text = env[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < min) {
    throw new Error(`${name} must be a number of ${unit} (${min} or more), not ${JSON.stringify(text)}`);
  }
  return value;
}
