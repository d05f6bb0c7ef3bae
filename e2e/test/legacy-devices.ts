// Drives device processes running the older AppSync SDK (e2e/legacy-device/device.ts) from a test, and
// gives a test file what they need: its own database, the local AppSync endpoint on it with the live
// forwarder (as `npm run dev` runs it), signed users. A device's store lives in a file, so launching a
// device again with the same name is the same app opened again.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestDatabase } from '@datastore-pg/testing';
import type { LegacyDeviceConfig } from '../legacy-device/device';
import { DeviceProcess, type Item } from './device-process';
import { useLocalApi } from './local-api';

const DEVICE_SCRIPT = join(__dirname, '../legacy-device/device.ts');

export type { Item } from './device-process';
/** The SDK's stored sync times (ms, its own clock minus 2 s): after a base query, after a delta query. */
export interface LastSyncs { baseLastSyncTimestamp: number | null; lastSyncTimestamp: number | null }

export interface LegacyApi {
  db: TestDatabase;
  /** A device of the user (their ID token as the SDK's jwtToken), or of the API key; launched, not syncing. */
  device(name: string, model: LegacyDeviceConfig['model'], options?: { user?: string; groups?: string[]; owner?: string }): Promise<LegacyDevice>;
}

/** The local endpoint of e2e/test/local-api.ts, with devices of the older SDK; their stores in files of their own. */
export function useLegacyApi(name: string): LegacyApi {
  const api = useLocalApi(name);
  const devices: LegacyDevice[] = [];
  const storageDir = join(__dirname, '../../.data', `legacy-devices-${process.pid}-${name}`);
  beforeAll(() => {
    mkdirSync(storageDir, { recursive: true });
  });
  afterAll(() => {
    rmSync(storageDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map((d) => d.close()));
  });

  return {
    db: api.db,
    async device(deviceName, model, options = {}) {
      const auth = options.user ? { jwtToken: api.user(options.user, options.groups ?? []).idToken } : { apiKey: api.apiKey };
      const config: LegacyDeviceConfig = { endpoint: api.endpoint(), auth, storageFile: join(storageDir, `${deviceName}.json`), model, owner: options.owner };
      const device = await LegacyDevice.launch(deviceName, config);
      devices.push(device);
      return device;
    },
  };
}

export class LegacyDevice extends DeviceProcess {
  private constructor(name: string, child: ChildProcess) {
    super(name, child);
  }

  static launch(name: string, config: LegacyDeviceConfig): Promise<LegacyDevice> {
    if (!existsSync(join(__dirname, '../legacy-device/node_modules/aws-appsync'))) {
      throw new Error('e2e/legacy-device has no node_modules: `npm install` at the root installs it (its postinstall script)');
    }
    return DeviceProcess.spawnDevice((child) => new LegacyDevice(name, child), DEVICE_SCRIPT, 'LEGACY_DEVICE_CONFIG', config);
  }

  /** Starts the SDK's Delta Sync and waits until its base or delta query is in the cache. */
  start(): Promise<LastSyncs> {
    return this.call('start');
  }

  /** The cached list: the base query as the SDK's cache answers it. */
  list(): Promise<Item[]> {
    return this.call('list');
  }

  /** Polls the cached list until check passes. */
  until<T>(check: (items: Item[]) => T | undefined | false, timeoutMs = 20_000): Promise<T> {
    return this.poll('the cached list', () => this.list(), check, timeoutMs);
  }

  /** Off: requests fail and the SDK hears "offline". On: answers once the SDK's sync after "online" ran. */
  network(online: boolean): Promise<LastSyncs> {
    return this.call('network', { online });
  }

  /** The list queries that reached the server, in order (of one operation, if given). */
  requests(operation?: string): Record<string, any>[] {
    return this.events.filter((e) => e.event === 'request' && (operation === undefined || e.operation === operation));
  }

  /** The app closes: its sync ends, its store is on disk, the process exits. */
  async stop(): Promise<LastSyncs> {
    const stored = await this.call<LastSyncs>('stop');
    await this.close();
    return stored;
  }
}
