// One worker process of the fleet: a share of the devices, run closed-loop (each lane sends its next
// request as soon as the last is answered) on a postgres.js pool of its own, as a Lambda container has
// one. bench/fleet.ts forks it and drives it phase by phase over the IPC channel.
import { connect, type Sql } from '@datastore-pg/db';
import { random } from '../../packages/simulation/src/random';
import { device, DeviceActions, emptyTally, resolvers, SYNCED, type Device, type Resolvers, type Tally } from './device';
import type { Day } from './options';

export type Phase = 'full' | 'delta' | 'edits' | 'day';

export type Command =
  | { type: 'init'; url: string; usernames: string[]; subscribed: string[]; siteIds: string[]; inFlight: number; seed: number }
  /**
   * A phase: until `seconds` have passed. lastSync (delta, day): where every device's window starts.
   * editsPerDevice (edits): each device's share, after which its lane stops (sooner than time). day: the mix.
   */
  | { type: 'phase'; phase: Phase; seconds: number; lastSync?: number; editsPerDevice?: number; day?: Day }
  | { type: 'stop' };

export interface PhaseReport {
  tally: Tally;
  /** This process's CPU over the phase: the resolvers' share, as Lambda would spend it (and the simulation's, which is small). */
  nodeCpuSeconds: number;
  /** For subscribed devices in the day: [username, `${model}:${id}`, the last version written]. */
  written: [string, string, number][];
}

export type Reply = { type: 'ready' } | { type: 'done'; report: PhaseReport } | { type: 'failed'; error: string };

let sql: Sql | undefined;
/** Built once: a resolver loads its model's runtime on its first request and keeps it, as in a warm Lambda. */
let resolve: Resolvers;
let lanes: Device[][] = [];
let subscribed = new Set<string>();
let siteIds: string[] = [];
let rand: () => number = Math.random;

async function init(command: Extract<Command, { type: 'init' }>): Promise<void> {
  sql = connect(command.url, { max: command.inFlight, applicationName: 'fleet device' });
  resolve = resolvers(sql);
  rand = random(command.seed);
  siteIds = command.siteIds;
  subscribed = new Set(command.subscribed);
  const devices = new Map(command.usernames.map((u) => [u, device(u)]));
  // What each device holds after yesterday's sync: its own orders and logs at their versions.
  const owners = command.usernames.join(','); // usernames hold no comma (fleet/seed.ts)
  for (const row of await sql<{ id: string; version: number; owner: string }[]>`
    select id::text, _version as version, owner from work_orders where owner = any(string_to_array(${owners}, ',')) and not _deleted`) {
    devices.get(row.owner)!.orders.set(row.id, row.version);
  }
  for (const row of await sql<{ id: string; version: number; owner: string }[]>`
    select id::text, _version as version, owner from work_logs where owner = any(string_to_array(${owners}, ',')) and not _deleted`) {
    devices.get(row.owner)!.logs.set(row.id, row.version);
  }
  lanes = Array.from({ length: command.inFlight }, () => []);
  [...devices.values()].forEach((d, i) => lanes[i % command.inFlight]!.push(d));
  lanes = lanes.filter((lane) => lane.length > 0);
  // Warm-up, not measured: each resolver loads its model's runtime on its first request, and each
  // connection prepares its statements.
  const warmUp = new DeviceActions(resolve, emptyTally(), siteIds, rand);
  await Promise.all(lanes.map((lane) => warmUp.fullSync(lane[0]!)));
  if (Object.keys(warmUp.tally.errors).length > 0) throw new Error(`the warm-up sync failed: ${warmUp.tally.firstError}`);
}

async function runPhase(command: Extract<Command, { type: 'phase' }>): Promise<PhaseReport> {
  const actions = new DeviceActions(resolve, emptyTally(), siteIds, rand);
  const deadline = Date.now() + command.seconds * 1000;
  const devices = lanes.flat();
  if (command.lastSync !== undefined) {
    for (const d of devices) for (const model of SYNCED) d.lastSync[model] = command.lastSync;
  }
  for (const d of devices) d.written = command.phase === 'day' && subscribed.has(d.username) ? new Map() : undefined;
  const started = process.cpuUsage();
  await Promise.all(lanes.map((lane) => runLane(lane, command, actions, deadline)));
  const cpu = process.cpuUsage(started);
  return {
    tally: actions.tally,
    nodeCpuSeconds: (cpu.user + cpu.system) / 1e6,
    written: devices.flatMap((d) => [...(d.written ?? [])].map(([key, version]): [string, string, number] => [d.username, key, version])),
  };
}

/** One request at a time, the lane's devices in turn. */
async function runLane(lane: Device[], command: Extract<Command, { type: 'phase' }>, actions: DeviceActions, deadline: number): Promise<void> {
  const more = () => Date.now() < deadline;
  switch (command.phase) {
    case 'full':
      // The same full sync again and again returns the same rows: devices are taken in turn until time is up.
      for (let i = 0; more(); i++) await actions.fullSync(lane[i % lane.length]!);
      return;
    case 'delta':
      // Every device's window is the same stretch of changes (lastSync stays), so a device may sync again.
      for (let i = 0; more(); i++) await actions.deltaSync(lane[i % lane.length]!, true);
      return;
    case 'edits':
      // Round by round, so that every device has about its share when time runs out first.
      for (let round = 0; round < (command.editsPerDevice ?? Infinity); round++) {
        for (const d of lane) {
          if (!more()) return;
          await actions.edit(d);
        }
      }
      return;
    case 'day': {
      const { fullSyncs, deltaSyncs, edits } = command.day!;
      const total = fullSyncs + deltaSyncs + edits;
      for (let i = 0; more(); i++) {
        const d = lane[i % lane.length]!;
        const draw = rand() * total;
        if (draw < fullSyncs) await actions.fullSync(d);
        else if (draw < fullSyncs + deltaSyncs) await actions.deltaSync(d);
        else await actions.edit(d);
      }
      return;
    }
  }
}

function reply(message: Reply): void {
  process.send!(message);
}

async function serve(command: Command): Promise<void> {
  try {
    switch (command.type) {
      case 'init':
        await init(command);
        return reply({ type: 'ready' });
      case 'phase':
        return reply({ type: 'done', report: await runPhase(command) });
      case 'stop':
        await sql?.end({ timeout: 5 });
        return process.disconnect();
    }
  } catch (error) {
    reply({ type: 'failed', error: error instanceof Error ? error.stack ?? error.message : String(error) });
  }
}

if (require.main === module) process.on('message', (command: Command) => void serve(command));
