// Drives device processes (e2e/device/device.ts) from a test: one process per device, as several phones.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { DeviceConfig } from '../device/device';
import { DeviceProcess, type Item } from './device-process';

const DEVICE_SCRIPT = join(__dirname, '../device/device.ts');

export type { DeviceConfig } from '../device/device';
export type { Item } from './device-process';

export class Device extends DeviceProcess {
  private constructor(name: string, child: ChildProcess) {
    super(name, child);
  }

  static launch(name: string, config: DeviceConfig): Promise<Device> {
    return DeviceProcess.spawnDevice((child) => new Device(name, child), DEVICE_SCRIPT, 'DEVICE_CONFIG', config);
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
  until<T>(model: string, check: (items: Item[]) => T | undefined | false, timeoutMs = 20_000): Promise<T> {
    return this.poll(model, () => this.query(model), check, timeoutMs);
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
}
