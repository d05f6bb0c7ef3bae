// Conflict resolution: what happens when a write names a _version the server has moved past.
// https://docs.aws.amazon.com/appsync/latest/devguide/conflict-detection-and-resolution.html
import type { FieldMeta } from '@datastore-pg/schema/models';
import type { Caller } from './auth';
import type { Item } from './items';

export interface ConflictContext {
  operation: 'UPDATE' | 'DELETE';
  /** The item as the server has it now. */
  server: Item;
  /**
   * The item as it was at the version the client based its write on (incomingVersion), rebuilt from the
   * merge history; null when that version is older than the model's merge horizon.
   */
  base: Item | null;
  /** The fields the client sent (without id and _version). */
  incoming: Record<string, unknown>;
  /** The _version the client based its write on. */
  incomingVersion: number;
  caller: Caller;
}

/** Like AppSync's Lambda conflict handler: RESOLVE writes data over the server item, REJECT answers
 * ConflictUnhandled, REMOVE deletes the item. */
export type ConflictResolution = { action: 'RESOLVE'; data: Record<string, unknown> } | { action: 'REJECT' } | { action: 'REMOVE' };

export type ResolveConflict = (context: ConflictContext) => ConflictResolution | Promise<ConflictResolution>;

/**
 * AppSync's Automerge: for each incoming field, take the incoming value where the server has none,
 * append incoming list elements to the server's list (duplicates kept), and keep the server's value of
 * any other scalar. Returns the fields to write.
 */
export function automerge(fields: ReadonlyMap<string, FieldMeta>, server: Item, incoming: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(incoming)) {
    const current = server[name];
    if (current === null || current === undefined) merged[name] = value;
    else if (fields.get(name)?.list && Array.isArray(current) && Array.isArray(value)) merged[name] = [...current, ...value];
  }
  return merged;
}
