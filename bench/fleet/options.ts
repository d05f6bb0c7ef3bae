// The fleet model's parameters (`npm run bench -- --fleet N [options]`), checked before anything starts
// and printed at the start of a run, so that every figure says what it was measured on.
import { cpus } from 'node:os';

/** What one device does in 24 hours. */
export interface Day {
  /** Full syncs: DataStore's fullSyncInterval is 24 h, after which it sends lastSync 0 again (design.md §6). */
  fullSyncs: number;
  /** Delta syncs: one at each app start and each reconnect. */
  deltaSyncs: number;
  /** Edits: creates and updates of the technician's work orders and logs. */
  edits: number;
}

/** The data, sized from the number of devices (one technician each). */
export interface Dataset {
  technicians: number;
  ordersPerTechnician: number;
  logsPerOrder: number;
  /** The shared catalogue every device syncs whole: customers, their sites, the sites' assets, parts. */
  customers: number;
  sitesPerCustomer: number;
  assetsPerSite: number;
  parts: number;
  /** The ERP's changes to the catalogue in a day, as a fraction of it: what delta syncs bring besides a device's own work. */
  catalogueChangesPerDay: number;
}

export interface FleetOptions {
  devices: number;
  quick: boolean;
  day: Day;
  dataset: Dataset;
  /** Worker processes; each is one Lambda container's worth of resolvers with a postgres.js pool of its own. */
  workers: number;
  /** Requests each worker has in flight (its pool's size): enough to keep both sides of the machine busy. */
  inFlight: number;
  /** Devices also subscribed over the realtime WebSocket during the day. */
  subscribers: number;
  /** Rounds of the phases measured alone (full, edits, delta, full, ...): each figure is their median. */
  rounds: number;
  /** Longest each phase runs, in seconds (a round of it, for the phases measured alone). */
  seconds: { full: number; delta: number; edits: number; day: number };
}

/** The fleet model's options, for bench/run.ts's parseArgs (all strings: checked here, with clearer errors). */
export const FLEET_ARGS = {
  fleet: { type: 'string' },
  'full-syncs': { type: 'string' },
  'delta-syncs': { type: 'string' },
  edits: { type: 'string' },
  workers: { type: 'string' },
  subscribers: { type: 'string' },
  'orders-per-technician': { type: 'string' },
} as const;

/** The options as parseArgs gives them. */
export type FleetArgs = Record<string, string | boolean | undefined>;

/** A bad option: its message is for the person at the command line, no stack needed. */
export class FleetOptionError extends Error {}

export function fleetOptions(args: FleetArgs): FleetOptions {
  if (args.rows !== undefined) throw new FleetOptionError('--rows sizes the other figures; the fleet model is sized by --fleet N');
  if (args.fleet === undefined) {
    const given = Object.keys(FLEET_ARGS).filter((name) => args[name] !== undefined).map((name) => `--${name}`);
    throw new FleetOptionError(`${given.join(', ')} ${given.length === 1 ? 'is an option' : 'are options'} of the fleet model: give --fleet N (devices) too`);
  }
  const devices = count(args, 'fleet', undefined, 1);
  const quick = args.quick === true;
  const day: Day = {
    fullSyncs: amount(args, 'full-syncs', 1),
    deltaSyncs: amount(args, 'delta-syncs', 8),
    edits: amount(args, 'edits', 40),
  };
  if (day.fullSyncs + day.deltaSyncs + day.edits === 0) throw new FleetOptionError('a device\'s day needs something to do: --full-syncs, --delta-syncs and --edits are all 0');
  // A catalogue that grows with the fleet (more technicians serve more customers), but no model past
  // DataStore's maxRecordsToSync (10,000, design.md §2): a full sync stops there, so a bigger share is not
  // what a device would sync. Parts: one ERP catalogue whatever the fleet's size.
  const customers = Math.min(2500, Math.max(50, Math.ceil(devices / 4)));
  const dataset: Dataset = {
    technicians: devices,
    ordersPerTechnician: count(args, 'orders-per-technician', 20, 1),
    logsPerOrder: 3,
    customers,
    sitesPerCustomer: 2,
    assetsPerSite: 2,
    parts: 2000,
    catalogueChangesPerDay: 0.01,
  };
  const subscribers = count(args, 'subscribers', Math.min(devices, quick ? 10 : 50), 0);
  if (subscribers > devices) throw new FleetOptionError(`--subscribers ${subscribers} is more than the ${devices} devices`);
  return {
    devices,
    quick,
    day,
    dataset,
    workers: count(args, 'workers', cpus().length, 1),
    inFlight: 2,
    subscribers,
    rounds: quick ? 1 : 3,
    seconds: quick ? { full: 4, delta: 3, edits: 3, day: 8 } : { full: 7, delta: 5, edits: 6, day: 60 },
  };
}

/** A whole number of at least min; fallback when absent (undefined: required). */
function count(args: FleetArgs, name: string, fallback: number | undefined, min: number): number {
  const raw = args[name];
  if (raw === undefined && fallback !== undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw.trim()) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    throw new FleetOptionError(`--${name} needs a whole number of at least ${min}${raw === undefined ? '' : `, not '${String(raw)}'`}`);
  }
  return Number(raw);
}

/** A number of times a day: 0 or more, fractions allowed (0.5 full syncs: one every other day). */
function amount(args: FleetArgs, name: string, fallback: number): number {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const value = typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isFinite(value)) throw new FleetOptionError(`--${name} needs a number of times a day (0 or more), not '${String(raw)}'`);
  return value;
}

/** One line each, printed at the start of a run. */
export function describe(options: FleetOptions): string[] {
  const { dataset: d, day } = options;
  const sites = d.customers * d.sitesPerCustomer;
  const assets = sites * d.assetsPerSite;
  return [
    `fleet: ${options.devices} devices (one technician each), ${options.workers} worker processes with ${options.inFlight} requests in flight each, ${options.subscribers} devices subscribed over the realtime WebSocket during the day${options.quick ? ' (--quick)' : ''}`,
    `  a device's day (--full-syncs, --delta-syncs, --edits): ${day.fullSyncs} full sync, ${day.deltaSyncs} delta syncs, ${day.edits} edits`,
    `  data: ${d.ordersPerTechnician} work orders per technician (--orders-per-technician) with ${d.logsPerOrder} logs each; catalogue of ${d.customers} customers (devices / 4, 50 to 2,500), ${sites} sites, ${assets} assets, ${d.parts} parts; the ERP changes ${d.catalogueChangesPerDay * 100}% of the catalogue a day`,
    `  phases: ${options.rounds === 1 ? 'one round' : `${options.rounds} rounds`} of full syncs ${options.seconds.full} s, edits ${options.seconds.edits} s, delta syncs ${options.seconds.delta} s (each alone); then the day's mix ${options.seconds.day} s`,
  ];
}
