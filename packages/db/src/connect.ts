import postgres from 'postgres';

export type Sql = postgres.Sql;
/** The sql of a transaction (see transaction()): the same tagged template, bound to one connection. */
export type Tx = postgres.ReservedSql;

/** Where to connect when not by URL: RDS (Proxy) with an IAM auth token as the password. */
export interface ConnectTarget {
  host: string;
  port: number;
  database: string;
  username: string;
  /** Called for every new connection: IAM tokens live 15 minutes, so each connection gets a fresh one. */
  password: () => Promise<string>;
  /**
   * TLS, verifying the server's certificate: true trusts Node's CA store (enough for RDS Proxy, whose
   * certificate Amazon Trust Services issues); { ca } trusts a bundle (the RDS CA bundle, for a DB
   * instance endpoint); false only for tests on localhost.
   */
  tls: boolean | { ca: string };
}

export interface ConnectOptions {
  /** Pool size. Lambdas use 1 (one connection per container); tools and tests a few. */
  max?: number;
  /** Seconds an idle connection stays open; unset keeps it (a Lambda container's one connection). */
  idleTimeout?: number;
  /** Receives NOTICE messages (a migration saying it skipped pg_cron, say). Silent when absent. */
  onNotice?: (message: string) => void;
  /** Name shown in pg_stat_activity, so a stuck connection can be traced to its owner. */
  applicationName?: string;
  /** Cancels a statement that runs longer (the server's statement_timeout); unset: no limit. */
  statementTimeoutMs?: number;
  /**
   * false: skip postgres.js's lookup of array types on connect, for a connection that only reads
   * scalars. That lookup's promise is held by nobody: a connection killed while it runs rejects it
   * unhandled, which ends the Node process.
   */
  fetchTypes?: false;
}

/**
 * Opens a postgres.js pool on a URL or an IAM-authenticated target. Every part of datastore-pg
 * connects through here, so connection defaults live in one place.
 */
export function connect(target: string | ConnectTarget, options: ConnectOptions = {}): Sql {
  const common: postgres.Options<Record<string, postgres.PostgresType>> = {
    max: options.max ?? 4,
    idle_timeout: options.idleTimeout,
    connect_timeout: 10,
    // No reconnect delay of the driver's own: after repeated failures postgres.js waits up to 20 s before
    // it dials again, which no caller sees and which would outlast the handler's retry budget. The
    // handler's retries (versioning/src/retry.ts) space the attempts; a tool fails at once.
    backoff: false,
    ...(options.fetchTypes === false ? { fetch_types: false } : {}),
    onnotice: (notice) => options.onNotice?.(notice.message ?? ''),
    connection: {
      application_name: options.applicationName ?? 'datastore-pg',
      ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    },
    types: {
      // int8 as a number, not a string: _version and _lastChangedAt (AWSTimestamp, ms) are numbers in the
      // protocol and stay far below 2^53.
      bigint: { to: 20, from: [20], serialize: (value: number) => String(value), parse: (value: string) => Number(value) },
      // date as the 'YYYY-MM-DD' text AWSDate is, not a Date at local midnight.
      date: { to: 1082, from: [1082], serialize: (value: string) => value, parse: (value: string) => value },
    },
  };
  if (typeof target === 'string') return postgres(target, common);
  return postgres({
    ...common,
    host: target.host,
    port: target.port,
    database: target.database,
    username: target.username,
    password: target.password,
    ssl: target.tls === false ? false : { rejectUnauthorized: true, ...(target.tls === true ? {} : { ca: target.tls.ca }) },
  });
}

/** The DATABASE_URL environment variable, or a clear error naming it. */
export function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: point it at a PostgreSQL database (postgres://user@host:port/db)');
  return url;
}
