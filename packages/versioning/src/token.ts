// nextToken: an opaque, signed cursor. It carries the sync window fixed on the first page (so every page
// returns the first page's startedAt, design.md §2) and the keyset position, and is bound to the model,
// the mode and the filter, so a token cannot be altered or replayed into another sync.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { DataStoreError, ErrorCode } from './errors';

export type SyncMode = 'full' | 'base' | 'delta';

export interface SyncCursor {
  model: string;
  mode: SyncMode;
  /** lastSync of the sync this token continues (0 for a full sync). */
  lastSync: number;
  /** The watermark fixed on the first page: every page's startedAt. */
  startedAt: number;
  /** Hash of the filter and access scope: a later page must ask for the same rows. */
  scope: string;
  /** Keyset position after the last row returned: [id] (full), [stamp, id] (base), [stamp, seq] (delta). */
  after: (string | number)[];
  /** Delta mode: until when (ms) purge leaves the window's changes in the journal; later pages are refused. */
  until?: number;
  /**
   * Full and base modes, with a read replica: the writer's WAL position taken right after the watermark
   * (replica.ts). A replica that has replayed past it may answer the pages; a token without it (issued
   * by a writer-only container, or before replicas were read) is answered by the writer. Signed with the
   * rest: an altered position is refused like any altered token.
   */
  lsn?: string;
  /**
   * Full and base modes: the table's rows are done and the pages come from the graveyard, keyset on its
   * id (after is [id]).
   */
  graveyard?: true;
}

const MAX_TOKEN_LENGTH = 4096;

export function scopeHash(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 22);
}

export function signToken(cursor: SyncCursor, key: string): string {
  const payload = Buffer.from(JSON.stringify({ v: 1, ...cursor })).toString('base64url');
  return `${payload}.${mac(payload, key)}`;
}

export function verifyToken(token: unknown, key: string, expected: { model: string; scope: string }): SyncCursor {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw badToken();
  const [payload, signature, ...rest] = token.split('.');
  if (!payload || !signature || rest.length > 0) throw badToken();
  const expectedSignature = Buffer.from(mac(payload, key));
  const given = Buffer.from(signature);
  if (given.length !== expectedSignature.length || !timingSafeEqual(given, expectedSignature)) throw badToken();
  const cursor = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as SyncCursor & { v: number };
  // Signed by us, so well-formed; these checks catch a token of another model or filter.
  if (cursor.v !== 1 || cursor.model !== expected.model) throw badToken('nextToken belongs to another model');
  if (cursor.scope !== expected.scope) throw badToken('nextToken belongs to a sync with another filter or caller');
  return cursor;
}

function mac(payload: string, key: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url');
}

function badToken(message = 'nextToken is invalid: restart the sync without it'): DataStoreError {
  return new DataStoreError(ErrorCode.InvalidNextToken, message);
}
