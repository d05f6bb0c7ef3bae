import { Signer } from '@aws-sdk/rds-signer';
import type { ConnectTarget } from './connect';

/** Signs RDS IAM auth tokens; the AWS SDK's Signer in production, a stand-in in tests. */
export type TokenSigner = (endpoint: { hostname: string; port: number; username: string; region: string }) => Promise<string>;

export const awsTokenSigner: TokenSigner = (endpoint) => new Signer(endpoint).getAuthToken();

export interface IamEndpoint {
  host: string;
  port: number;
  database: string;
  username: string;
  region: string;
}

/** An RDS (Proxy) target whose password is a fresh IAM auth token: no password exists anywhere. */
export function iamTarget(endpoint: IamEndpoint, sign: TokenSigner = awsTokenSigner, tls: ConnectTarget['tls'] = true): ConnectTarget {
  return {
    host: endpoint.host,
    port: endpoint.port,
    database: endpoint.database,
    username: endpoint.username,
    password: () => sign({ hostname: endpoint.host, port: endpoint.port, username: endpoint.username, region: endpoint.region }),
    tls,
  };
}

/**
 * The runtime's database from the environment: DATABASE_URL when set (local use), otherwise the RDS
 * Proxy named by DB_HOST, DB_PORT, DB_NAME, DB_USER and AWS_REGION (serverless.yml sets them).
 */
export function targetFromEnv(env: NodeJS.ProcessEnv = process.env, sign: TokenSigner = awsTokenSigner): string | ConnectTarget {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const missing = ['DB_HOST', 'DB_NAME', 'DB_USER', 'AWS_REGION'].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`set DATABASE_URL, or ${missing.join(', ')} for an IAM-authenticated RDS connection`);
  return iamTarget({ host: env.DB_HOST!, port: Number(env.DB_PORT ?? 5432), database: env.DB_NAME!, username: env.DB_USER!, region: env.AWS_REGION! }, sign);
}

/**
 * The read replica from the environment, or undefined when none is configured: DATABASE_READER_URL beside
 * DATABASE_URL (local use), otherwise DB_READER_HOST (RDS Proxy's read-only endpoint, serverless.yml
 * sets it for a stage with `readReplica`; empty when the stage has none) with the writer's DB_PORT,
 * DB_NAME, DB_USER and IAM auth: the same user through the same proxy.
 */
export function readerTargetFromEnv(env: NodeJS.ProcessEnv = process.env, sign: TokenSigner = awsTokenSigner): string | ConnectTarget | undefined {
  if (env.DATABASE_URL) return env.DATABASE_READER_URL || undefined;
  if (!env.DB_READER_HOST) return undefined;
  const writer = targetFromEnv(env, sign) as ConnectTarget;
  return iamTarget({ host: env.DB_READER_HOST, port: writer.port, database: writer.database, username: writer.username, region: env.AWS_REGION! }, sign);
}
