// Who is calling, from the request headers, as AppSync decides it: x-api-key (API key), an
// Authorization JWT (Cognito user pools; here signed with a local development key), or a SigV4
// Authorization header (IAM; its signature cannot be checked without AWS and is taken as is).
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AuthType } from './appsync-utils';

export interface DevCredentials {
  apiKey: string;
  /** HS256 key for the local stand-in of Cognito's tokens. */
  jwtSecret: string;
}

export function newDevCredentials(): DevCredentials {
  return { apiKey: `da2-${randomBytes(13).toString('hex')}`, jwtSecret: randomBytes(32).toString('base64url') };
}

export type AuthMode = 'API_KEY' | 'AMAZON_COGNITO_USER_POOLS' | 'AWS_IAM';

export const AUTH_TYPE: Record<AuthMode, AuthType> = {
  API_KEY: 'API Key Authorization',
  AMAZON_COGNITO_USER_POOLS: 'User Pool Authorization',
  AWS_IAM: 'IAM Authorization',
};

/** The directive that admits each mode on a field of the SDL. */
export const AUTH_DIRECTIVE: Record<AuthMode, string> = {
  API_KEY: 'aws_api_key',
  AMAZON_COGNITO_USER_POOLS: 'aws_cognito_user_pools',
  AWS_IAM: 'aws_iam',
};

export interface Caller {
  mode: AuthMode;
  /** As AppSync puts it in ctx.identity: null for API key. */
  identity: Record<string, unknown> | null;
}

export class AuthError extends Error {}

export function authenticate(headers: Record<string, unknown>, credentials: DevCredentials, sourceIp = '127.0.0.1'): Caller {
  const header = (name: string) => {
    const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name);
    return typeof entry?.[1] === 'string' ? entry[1] : undefined;
  };
  const apiKey = header('x-api-key');
  if (apiKey !== undefined) {
    if (!safeEqual(apiKey, credentials.apiKey)) throw new AuthError('invalid API key');
    return { mode: 'API_KEY', identity: null };
  }
  const authorization = header('authorization');
  if (!authorization) throw new AuthError('no credentials');
  if (authorization.startsWith('AWS4-HMAC-SHA256')) return iamCaller(sourceIp);
  const claims = verifyJwt(authorization.replace(/^Bearer /, ''), credentials.jwtSecret);
  const groups = Array.isArray(claims['cognito:groups']) ? claims['cognito:groups'] : null;
  return {
    mode: 'AMAZON_COGNITO_USER_POOLS',
    identity: {
      sub: claims.sub,
      issuer: claims.iss,
      username: claims.username ?? claims['cognito:username'],
      claims,
      sourceIp: [sourceIp],
      defaultAuthStrategy: 'ALLOW',
      groups,
    },
  };
}

/** The forwarder role's sessions in this machine's stand-in account: what the stack sets as ctx.env.FORWARDER_SESSIONS. */
export const LOCAL_FORWARDER_SESSIONS = 'arn:aws:sts::000000000000:assumed-role/datastore-pg-local-forwarder/';

/**
 * An IAM caller, as AppSync puts one in ctx.identity. Signatures cannot be checked here, so every IAM
 * caller is taken for a session of the forwarder's role (the only IAM principal this API expects).
 */
export function iamCaller(sourceIp = '127.0.0.1'): Caller {
  return {
    mode: 'AWS_IAM',
    identity: { accountId: '000000000000', userArn: `${LOCAL_FORWARDER_SESSIONS}local`, username: 'local', sourceIp: [sourceIp], cognitoIdentityPoolId: null, cognitoIdentityId: null },
  };
}

/** A token like Cognito's access and ID tokens, for a local user: `npm run dev:token`. */
export function signUserToken(secret: string, user: { username: string; groups?: string[]; tokenUse?: 'access' | 'id'; ttlSeconds?: number }): string {
  const now = Math.floor(Date.now() / 1000);
  const sub = `local-${createHmac('sha256', secret).update(user.username).digest('hex').slice(0, 24)}`;
  const claims = {
    sub,
    iss: 'https://local-appsync/userpool',
    token_use: user.tokenUse ?? 'access',
    username: user.username,
    'cognito:username': user.username,
    'cognito:groups': user.groups ?? [],
    client_id: 'local-appsync',
    event_id: randomUUID(),
    iat: now,
    exp: now + (user.ttlSeconds ?? 24 * 3600),
  };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

function verifyJwt(token: string, secret: string): Record<string, unknown> {
  const [header, payload, signature] = token.split('.');
  if (!header || !payload || !signature) throw new AuthError('malformed token');
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  if (!safeEqual(signature, expected)) throw new AuthError('bad token signature');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) throw new AuthError('Token expired');
  return claims;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
