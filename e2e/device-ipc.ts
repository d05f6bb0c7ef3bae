// The device side of the end-to-end tests' device processes (e2e/device, e2e/legacy-device): JSON
// commands on stdin ({ id, command, args }), answers ({ id, result } or { id, error }) and events
// ({ event, ... }) on stdout, one per line; e2e/test/device-process.ts is the other end.
import { createInterface } from 'node:readline';

export type Commands = Record<string, (args: any) => Promise<unknown>>;

/** One line to the test: an answer or an event. */
export const emit = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);

/** Answers the test's commands until it says exit, and tells it the device is up. */
export function serveCommands(commands: Commands): void {
  createInterface({ input: process.stdin }).on('line', (line) => {
    const { id, command, args } = JSON.parse(line) as { id: number; command: string; args?: unknown };
    if (command === 'exit') process.exit(0);
    const run = commands[command];
    if (!run) return emit({ id, error: `unknown command ${command}` });
    run(args ?? {}).then(
      (result) => emit({ id, result: result ?? null }),
      (error: unknown) => emit({ id, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  emit({ event: 'booted' });
}

/** Runs the device; a failure before it is up is reported as 'crashed', with its stack. */
export function runDevice(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    emit({ event: 'crashed', error: error instanceof Error ? error.stack : String(error) });
    process.exit(1);
  });
}
