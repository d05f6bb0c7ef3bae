// Postgres CPU-seconds, read from /proc. Every process of a server is the postmaster or one of its
// children (backends, autovacuum, checkpointer, WAL writer), and the kernel adds a child's CPU times to
// its parent's cutime/cstime when the parent reaps it; so the server's CPU so far is the postmaster's own
// utime+stime, plus its cutime+cstime (children gone), plus every live child's utime+stime. The
// difference of two readings counts a backend that came and went between them, and one that lived
// through only from the first reading on. Works on any server on this machine: the embedded one, a
// local cluster (not on a managed database, whose processes this machine cannot see).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Sql } from '@datastore-pg/db';

/** The forwarder's connections name themselves so (packages/local-appsync/src/live.ts). */
const FORWARDER_APPLICATION = 'datastore-pg forwarder';

export interface CpuReading {
  /** performance.now() of the reading. */
  at: number;
  /** The server's CPU so far, in clock ticks. */
  ticks: number;
  /** The postmaster's own utime+stime. */
  postmaster: number;
  /** Each live child's utime+stime. */
  children: Map<number, number>;
  /** Children that were client sessions when read; of them, the forwarder's and other databases'. */
  clients: Set<number>;
  forwarder: Set<number>;
  otherDatabases: Set<number>;
  /** The whole machine's busy time so far (every CPU, every process), in clock ticks. */
  machineTicks: number;
}

/** CPU-seconds between two readings: the server's, and the shares of it that can be told apart. */
export interface CpuSpent {
  wallSeconds: number;
  /** All of the server. */
  seconds: number;
  /** The server less other databases' sessions: what the figures use. */
  ours: number;
  /** The forwarder's sessions (its reads of the journals and its position writes). */
  forwarder: number;
  /** Processes that are not client sessions (autovacuum launcher, checkpointer, WAL writer), and the postmaster. */
  background: number;
  /**
   * Processes that ended in between: autovacuum workers, or another client's short sessions (the fleet's
   * own stay open); the kernel does not say whose they were.
   */
  exited: number;
  /** Sessions of other databases on the same server: not ours, shown so that a busy neighbour is seen. */
  otherDatabases: number;
  /** Every process of the machine, Postgres included. */
  machine: number;
}

interface Times { ppid: number; own: number; children: number }

/** user + nice + system + irq + softirq of /proc/stat's first line (idle, iowait and steal are not work done here). */
function machineBusyTicks(): number {
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return user! + nice! + system! + irq! + softirq!;
}

function readTimes(pid: number): Times | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone between the listing and the read
  }
  // pid (comm) state ppid ...: comm may hold spaces and parentheses, so fields count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => Number(fields[n - 3]); // n as numbered in proc(5)
  return { ppid: field(4), own: field(14) + field(15), children: field(16) + field(17) };
}

export class PostgresCpu {
  private constructor(
    private readonly sql: Sql,
    readonly postmaster: number,
    readonly ticksPerSecond: number,
  ) {}

  /** The postmaster of the server sql is connected to: the parent of this session's backend. */
  static async locate(sql: Sql): Promise<PostgresCpu> {
    const [{ pid }] = (await sql`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
    const backend = readTimes(pid);
    if (!backend) {
      throw new Error(`the fleet model reads Postgres CPU from /proc, and this machine has no process ${pid} (the backend serving it): it needs a server running here`);
    }
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (!(ticks > 0)) throw new Error('getconf CLK_TCK gave no clock tick rate');
    return new PostgresCpu(sql, backend.ppid, ticks);
  }

  async read(): Promise<CpuReading> {
    const sessions = await this.sql<{ pid: number; client: boolean; application: string | null; other: boolean }[]>`
      select pid, backend_type = 'client backend' as client, application_name as application,
             datname is not null and datname <> current_database() as other
        from pg_stat_activity`;
    const children = new Map<number, number>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const times = readTimes(Number(entry));
      if (times?.ppid === this.postmaster) children.set(Number(entry), times.own);
    }
    const postmaster = readTimes(this.postmaster);
    if (!postmaster) throw new Error(`the postmaster (process ${this.postmaster}) has gone`);
    let ticks = postmaster.own + postmaster.children;
    for (const own of children.values()) ticks += own;
    return {
      at: performance.now(),
      ticks,
      postmaster: postmaster.own,
      children,
      clients: new Set(sessions.filter((s) => s.client).map((s) => s.pid)),
      forwarder: new Set(sessions.filter((s) => s.application === FORWARDER_APPLICATION).map((s) => s.pid)),
      otherDatabases: new Set(sessions.filter((s) => s.other).map((s) => s.pid)),
      machineTicks: machineBusyTicks(),
    };
  }

  spent(from: CpuReading, to: CpuReading): CpuSpent {
    // What live processes spent from the first reading (or their start) to the second.
    const live = (pids: Iterable<number>) => {
      let ticks = 0;
      for (const pid of pids) {
        const end = to.children.get(pid);
        if (end !== undefined) ticks += end - (from.children.get(pid) ?? 0);
      }
      return ticks / this.ticksPerSecond;
    };
    const union = (a: Set<number>, b: Set<number>) => new Set([...a, ...b]);
    const seconds = (to.ticks - from.ticks) / this.ticksPerSecond;
    const children = live(to.children.keys());
    const clients = live(union(from.clients, to.clients));
    const postmaster = (to.postmaster - from.postmaster) / this.ticksPerSecond;
    const otherDatabases = live(union(from.otherDatabases, to.otherDatabases));
    return {
      wallSeconds: (to.at - from.at) / 1000,
      seconds,
      ours: seconds - otherDatabases,
      forwarder: live(union(from.forwarder, to.forwarder)),
      background: children - clients + postmaster,
      exited: seconds - children - postmaster,
      otherDatabases,
      machine: (to.machineTicks - from.machineTicks) / this.ticksPerSecond,
    };
  }
}
