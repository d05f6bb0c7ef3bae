import type { ResolveConflict } from '@datastore-pg/versioning';

const CLOSED = new Set(['COMPLETED', 'CANCELLED']);

/**
 * WorkOrder's conflict rule (schema.graphql: @conflict(handler: CUSTOM)), for a device that edited a work
 * order offline while the server's copy moved on:
 * - a work order closed on the server (COMPLETED, CANCELLED) stays as closed: the stale edit or delete
 *   is rejected and the device takes the server's copy;
 * - otherwise the device's changed fields are applied over the server's current copy, except notes:
 *   the device's notes are appended to the server's, so neither side's notes are lost;
 * - a stale delete of an open work order deletes it.
 */
export const resolveConflict: ResolveConflict = ({ operation, server, incoming }) => {
  if (CLOSED.has(String(server.status))) return { action: 'REJECT' };
  if (operation === 'DELETE') return { action: 'REMOVE' };
  const data = { ...incoming };
  const serverNotes = typeof server.notes === 'string' ? server.notes : '';
  if (typeof incoming.notes === 'string' && serverNotes && incoming.notes !== serverNotes && !incoming.notes.startsWith(serverNotes)) {
    data.notes = `${serverNotes}\n${incoming.notes}`;
  }
  return { action: 'RESOLVE', data };
};
