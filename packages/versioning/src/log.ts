// Structured logs: one JSON object per line, as CloudWatch Logs Insights reads them. Entries carry
// request ids, field names, codes and timings, never arguments, rows or SQL values.

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = Exclude<keyof typeof LEVELS, 'silent'>;

/** LOG_LEVEL (debug, info, warn, error, silent); info by default. */
function threshold(): number {
  return LEVELS[(process.env.LOG_LEVEL ?? 'info') as keyof typeof LEVELS] ?? LEVELS.info;
}

export function log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
  if (LEVELS[level] < threshold()) return;
  process.stdout.write(`${JSON.stringify({ level, time: new Date().toISOString(), message, ...fields })}\n`);
}
