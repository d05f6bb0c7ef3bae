// The forwarder's way into AppSync on AWS: POST /graphql signed with SigV4 for the service "appsync",
// with the Lambda role's credentials (the AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN the Lambda runtime sets). The role may call only the publish mutations.
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { GraphQLResponse, GraphQLTransport } from './publisher';

export interface AppSyncTarget {
  /** The API's GraphQL URL (https://<id>.appsync-api.<region>.amazonaws.com/graphql). */
  url: string;
  region: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Per request; a request past it fails, and the window is published again. */
  timeoutMs?: number;
}

export function appSyncTransport(target: AppSyncTarget): GraphQLTransport {
  const url = new URL(target.url);
  const signer = new SignatureV4({ service: 'appsync', region: target.region, credentials: target.credentials ?? fromEnv(), sha256: Sha256 });
  return async (request) => {
    const body = JSON.stringify(request);
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query: {},
      headers: { host: url.host, 'content-type': 'application/json' },
      body,
    });
    const response = await fetch(url, { method: 'POST', headers: signed.headers, body, signal: AbortSignal.timeout(target.timeoutMs ?? 10_000) });
    if (!response.ok) throw new Error(`AppSync answered ${response.status} ${response.statusText}`);
    return (await response.json()) as GraphQLResponse;
  };
}
