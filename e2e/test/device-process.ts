// The test side of a device process (e2e/device-ipc.ts is the other end): one process per device, as
// several phones; commands answered by id, events kept in order, the client's own log kept for failure
// messages rather than printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type Item = Record<string, any> & { id: string };

export abstract class DeviceProcess {
  readonly events: Record<string, any>[] = [];
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private readonly waiters: { test: (e: Record<string, any>) => boolean; resolve: (e: Record<string, any>) => void }[] = [];
  private nextId = 1;
  /** The client's stderr, its last 40 lines (its libraries warn freely). */
  protected readonly log: string[] = [];

  protected constructor(readonly name: string, private readonly child: ChildProcess) {
    // A device that dies (an error thrown in a library's observer ends the process) fails its pending calls.
    child.once('exit', (code) => {
      for (const call of this.pending.values()) call.reject(new Error(`${name} exited (code ${code})\n${this.log.join('\n')}`));
      this.pending.clear();
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.log.push(line);
      if (this.log.length > 40) this.log.shift();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let message: Record<string, any>;
      try {
        message = JSON.parse(line);
      } catch {
        return; // a library writing to stdout
      }
      if (typeof message.id === 'number') {
        const call = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) call?.reject(new Error(`${name}: ${message.error}\n${this.log.join('\n')}`));
        else call?.resolve(message.result);
        return;
      }
      this.events.push(message);
      for (const waiter of [...this.waiters]) {
        if (waiter.test(message)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(message);
        }
      }
    });
  }

  /** Starts script (run by tsx) with its config as JSON in env[configVariable]; resolves once it is up. */
  protected static async spawnDevice<T extends DeviceProcess>(make: (child: ChildProcess) => T, script: string, configVariable: string, config: unknown): Promise<T> {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, [configVariable]: JSON.stringify(config) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const device = make(child);
    const booted = await device.event((e) => e.event === 'booted' || e.event === 'crashed', 30_000);
    if (booted.event === 'crashed') throw new Error(`${device.name} crashed: ${booted.error}\n${device.log.join('\n')}`);
    return device;
  }

  call<T = any>(command: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    this.child.stdin!.write(`${JSON.stringify({ id, command, args })}\n`);
    return new Promise<T>((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  /** The first event (past or future) that passes test. */
  event(test: (e: Record<string, any>) => boolean, timeoutMs = 20_000): Promise<Record<string, any>> {
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no such event within ${timeoutMs} ms; saw ${JSON.stringify(this.events.slice(-8))}\n${this.log.join('\n')}`)), timeoutMs);
      this.waiters.push({ test, resolve: (e) => { clearTimeout(timer); resolve(e); } });
    });
  }

  /** Polls read() until check passes on what it returns. */
  protected async poll<T>(what: string, read: () => Promise<Item[]>, check: (items: Item[]) => T | undefined | false, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const items = await read();
      const result = check(items);
      if (result) return result;
      if (Date.now() > deadline) throw new Error(`${this.name}: ${what} never reached the expected state; has ${JSON.stringify(items.slice(0, 8))}\n${this.log.join('\n')}`);
      await new Promise((done) => setTimeout(done, 100));
    }
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.stdin!.write(`${JSON.stringify({ id: 0, command: 'exit' })}\n`);
    await new Promise((done) => {
      const timer = setTimeout(() => { this.child.kill('SIGKILL'); done(null); }, 5000);
      this.child.once('exit', () => { clearTimeout(timer); done(null); });
    });
  }
}
