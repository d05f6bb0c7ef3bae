// Authorization from the model's @auth rules and the caller's identity, as AppSync passes it to a direct
// Lambda resolver: null for API key; sub/username/claims/groups for Cognito user pools; accountId/userArn
// for IAM.
import type { AuthRule, ModelMeta } from '@datastore-pg/schema/models';
import { DataStoreError, ErrorCode } from './errors';

export type Caller =
  | { kind: 'apiKey' }
  | { kind: 'iam'; arn: string | undefined }
  | { kind: 'userPools'; claims: Record<string, unknown>; username: string | undefined; groups: readonly string[] };

/** What the caller may reach: every row, or only the rows whose owner field holds their identity. */
export type Access = { scope: 'all' } | { scope: 'owner'; ownerField: string; owner: string };

export function callerOf(identity: Record<string, unknown> | null | undefined): Caller {
  if (!identity) return { kind: 'apiKey' };
  const claims = identity.claims;
  if (claims && typeof claims === 'object' && typeof identity.sub === 'string') {
    const c = claims as Record<string, unknown>;
    const groups = Array.isArray(identity.groups) ? identity.groups : Array.isArray(c['cognito:groups']) ? c['cognito:groups'] : [];
    const username = [identity.username, c['cognito:username'], c.username].find((v): v is string => typeof v === 'string' && v.length > 0);
    return { kind: 'userPools', claims: c, username, groups: groups.filter((g): g is string => typeof g === 'string') };
  }
  if (typeof identity.accountId === 'string' || typeof identity.userArn === 'string') {
    return { kind: 'iam', arn: typeof identity.userArn === 'string' ? identity.userArn : undefined };
  }
  throw unauthorized();
}

/**
 * Who wrote a change, as the merge history and the conflict log record it: the user (and, when Cognito
 * says so, their sign-in session: origin_jti stays the same across token refreshes of one sign-in, so
 * two phones of one user are two writers), the IAM principal, or the API key (every device behind one
 * key is one writer: the protocol carries no device id).
 */
export function writerOf(caller: Caller): string {
  switch (caller.kind) {
    case 'apiKey':
      return 'apiKey';
    case 'iam':
      return `iam:${caller.arn ?? 'unknown'}`;
    case 'userPools': {
      const session = caller.claims.origin_jti;
      const user = caller.username ?? String(caller.claims.sub ?? 'unknown');
      return typeof session === 'string' && session.length > 0 ? `user:${user}/${session}` : `user:${user}`;
    }
  }
}

export function unauthorized(): DataStoreError {
  return new DataStoreError(ErrorCode.Unauthorized, 'Not Authorized to access this model or item');
}

/**
 * The widest access any rule grants: a public, private or group rule grants every row; an owner rule
 * only the caller's own. No matching rule: Unauthorized.
 */
export function accessOf(model: ModelMeta, caller: Caller): Access {
  let ownerAccess: Access | undefined;
  for (const rule of model.auth) {
    if (grantsAll(rule, caller)) return { scope: 'all' };
    if (rule.allow === 'owner' && caller.kind === 'userPools') {
      const owner = ownerIdentity(rule, caller);
      if (owner) ownerAccess ??= { scope: 'owner', ownerField: rule.ownerField, owner };
    }
  }
  if (!ownerAccess) throw unauthorized();
  return ownerAccess;
}

function grantsAll(rule: AuthRule, caller: Caller): boolean {
  switch (rule.allow) {
    case 'public':
      return (rule.provider === 'apiKey' && caller.kind === 'apiKey') || (rule.provider === 'iam' && caller.kind === 'iam');
    case 'private':
      return (rule.provider === 'userPools' && caller.kind === 'userPools') || (rule.provider === 'iam' && caller.kind === 'iam');
    case 'groups':
      return caller.kind === 'userPools' && caller.groups.some((g) => rule.groups.includes(g));
    case 'owner':
      return false;
  }
}

/** The caller's identity under an owner rule's claim (username by default, or e.g. sub). */
export function ownerIdentity(rule: Extract<AuthRule, { allow: 'owner' }>, caller: Extract<Caller, { kind: 'userPools' }>): string | undefined {
  const value = rule.identityClaim === 'username' ? caller.username : caller.claims[rule.identityClaim];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** The owner-scoped caller may see a row only if it is theirs. */
export function mayAccess(access: Access, row: Record<string, unknown>): boolean {
  return access.scope === 'all' || row[access.ownerField] === access.owner;
}
