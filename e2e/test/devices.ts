// Drives device processes (e2e/device/device.ts) from a test: one process per device, as several phones.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DeviceConfig } from '../device/device';

const DEVICE_SCRIPT = join(__dirname, '../device/device.ts');

export type { DeviceConfig } from '../device/device';

export type Item = Record<string, any> & { id: string };

export class Device {
  readonly events: Record<string, any>[] = [];
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private readonly waiters: { test: (e: Record<string, any>) => boolean; resolve: (e: Record<string, any>) => void }[] = [];
  private nextId = 1;
  /** The client's own log (DataStore warns freely), kept for failure messages rather than printed. */
  private readonly log: string[] = [];

  private constructor(readonly name: string, private readonly child: ChildProcess) {
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
        if (message.error) call?.reject(new Error(`${name}: ${message.error}`));
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

  static async launch(name: string, config: DeviceConfig): Promise<Device> {
    const child = spawn(process.execPath, ['--import', 'tsx', DEVICE_SCRIPT], {
      env: { ...process.env, DEVICE_CONFIG: JSON.stringify(config) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const device = new Device(name, child);
    const booted = await device.event((e) => e.event === 'booted' || e.event === 'crashed', 30_000);
    if (booted.event === 'crashed') throw new Error(`${name} crashed: ${booted.error}\n${device.log.join('\n')}`);
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

  /** Starts DataStore and waits for its first full sync to finish. */
  async start(): Promise<void> {
    const readyBefore = this.events.filter((e) => e.event === 'ready').length;
    await this.call('start');
    await this.event(() => this.events.filter((e) => e.event === 'ready').length > readyBefore, 30_000);
  }

  query(model: string): Promise<Item[]> {
    return this.call('query', { model });
  }

  /** Polls the device's local store until check passes. */
  async until<T>(model: string, check: (items: Item[]) => T | undefined | false, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const items = await this.query(model);
      const result = check(items);
      if (result) return result;
      if (Date.now() > deadline) throw new Error(`${this.name}: ${model} never reached the expected state; has ${JSON.stringify(items.slice(0, 5))}\n${this.log.join('\n')}`);
      await new Promise((done) => setTimeout(done, 100));
    }
  }

  /** Waits until the outbox is empty: every local change has reached the server. */
  async synced(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await new Promise((done) => setTimeout(done, 50));
    for (;;) {
      const last = [...this.events].reverse().find((e) => e.event === 'outboxStatus');
      if (!last || last.data?.isEmpty) return;
      if (Date.now() > deadline) throw new Error(`${this.name}: outbox never emptied\n${this.log.join('\n')}`);
      await new Promise((done) => setTimeout(done, 100));
    }
  }

  /**
   * The requests of this operation that reached the server, in order. For a mutation or get, device.ts
   * logs what was sent (input), the answer (data, errorType, errorData) and whether it was lost.
   */
  requests(operation: string): Record<string, any>[] {
    return this.events.filter((e) => e.event === 'request' && e.operation === operation);
  }

  async close(): Promise<void> {
    this.child.stdin!.write(`${JSON.stringify({ id: 0, command: 'exit' })}\n`);
    await new Promise((done) => {
      const timer = setTimeout(() => { this.child.kill('SIGKILL'); done(null); }, 5000);
      this.child.once('exit', () => { clearTimeout(timer); done(null); });
    });
  }
}
