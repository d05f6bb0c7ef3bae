// The MERGE strategy: a write based on an older version b is merged field by field with what changed on
// the server since b, as the merge history tells it (history.ts). DataStore sends only the fields a
// device changed, with the _version it read (design.md §6), so:
//   - a field nobody else changed since b takes the device's value;
//   - a @counter field takes the device's difference: server + (incoming - base);
//   - a list field takes the device's additions and removals relative to the base, once each;
//   - a field both sides changed (to different values) is a true conflict, settled by the model's policy,
//     and the value that loses is logged;
//   - beyond the merge horizon (the history no longer reaches b) every field takes the device's value,
//     and each value it replaces is logged.
// Pure functions over items: no SQL here.
import type { FieldConflictPolicy, FieldMeta } from '@datastore-pg/schema/models';
import type { Item } from './items';

/** One version of the item after the write's base, from the merge history. */
export interface HistoryEntry {
  version: number;
  /** Columns this version changed. */
  changed: readonly string[];
  /** The API caller who wrote it (writerOf); null for any other writer. */
  writer: string | null;
  /** The version that API write was based on. */
  baseVersion: number | null;
  /** The fields that API write sent. */
  sent: Record<string, unknown> | null;
}

export interface LoggedValue {
  field: FieldMeta;
  reason: 'conflict' | 'beyond_horizon' | 'deleted' | 'automerge' | 'rejected';
  kept: 'incoming' | 'server';
  lost: unknown;
  keptValue: unknown;
  /** Who wrote the server's value, when the history says. */
  serverWriter: string | null;
}

export interface MergeInput {
  fields: ReadonlyMap<string, FieldMeta>;
  policy: FieldConflictPolicy;
  server: Item;
  /** The item as it was at the write's base; needed for counters and lists that others changed. */
  base: Item | null;
  /** The versions after the base, oldest first; null when the history no longer reaches the base. */
  history: readonly HistoryEntry[] | null;
  /** The fields the device sent (not id, not _version). */
  incoming: Record<string, unknown>;
  writer: string;
  /**
   * Whether one writer is one device (a signed-in user), so that its earlier writes from the same base
   * are its own queued changes. Behind an API key every device is the same writer: two devices counting
   * from one base must not be taken for one device's chain.
   */
  writerIsDevice: boolean;
  baseVersion: number;
}

export interface MergeResult {
  /** The fields to write, by GraphQL name. */
  write: Record<string, unknown>;
  log: LoggedValue[];
}

/**
 * A device's own writes that the incoming one builds on: the client keeps a record's queued writes on
 * the version it read until an answer matches what it sent, and then hands them the answered version
 * (outbox.ts, syncOutboxVersionsOnDequeue). So the chain is the writer's writes based on the incoming
 * write's base, or on a version an earlier write of the chain produced. Only a signed-in user is one
 * device: behind an API key every device is the same writer.
 */
export function ownChain(history: readonly HistoryEntry[], writer: string, writerIsDevice: boolean, baseVersion: number): HistoryEntry[] {
  if (!writerIsDevice) return [];
  const chain: HistoryEntry[] = [];
  const produced = new Set([baseVersion]);
  for (const e of history) {
    if (e.writer === writer && e.baseVersion !== null && produced.has(e.baseVersion)) {
      chain.push(e);
      produced.add(e.version);
    }
  }
  return chain;
}

/**
 * Whether this write was already applied: its answer was lost and the client sent it again with the
 * same body (it has no idempotency key, design.md §6). A device resends only its latest write, so for a
 * signed-in user that is the last write of its chain; behind an API key, any earlier write of the same
 * writer from the same base with the same fields (two devices sending the very same write are one).
 */
export function isReplay(history: readonly HistoryEntry[], writer: string, writerIsDevice: boolean, baseVersion: number, incoming: Record<string, unknown>): boolean {
  const sent = canonical(incoming);
  const same = (e: HistoryEntry) => e.writer === writer && e.baseVersion === baseVersion && e.sent !== null && canonical(e.sent) === sent;
  if (!writerIsDevice) return history.some(same);
  const last = ownChain(history, writer, true, baseVersion).at(-1);
  return last !== undefined && same(last);
}

export function merge(input: MergeInput): MergeResult {
  const { fields, server, incoming, history } = input;
  const write: Record<string, unknown> = {};
  const log: LoggedValue[] = [];
  if (history === null) {
    for (const [name, value] of Object.entries(incoming)) {
      const field = fields.get(name)!;
      write[name] = value;
      if (!sameValue(field, value, server[name])) log.push({ field, reason: 'beyond_horizon', kept: 'incoming', lost: server[name], keptValue: value, serverWriter: null });
    }
    return { write, log };
  }

  const own = ownChain(history, input.writer, input.writerIsDevice, input.baseVersion);
  const ownSent: Record<string, unknown> = Object.assign({}, ...own.map((e) => e.sent ?? {}));
  const others = history.filter((e) => !own.includes(e));

  for (const [name, value] of Object.entries(incoming)) {
    const field = fields.get(name)!;
    // The device's value of a field it wrote in its chain builds on that write: only others' changes
    // after it can conflict with it.
    const lastOwn = own.findLast((e) => e.sent !== null && name in e.sent)?.version ?? input.baseVersion;
    const changedBy = others.filter((e) => e.version > lastOwn && e.changed.includes(field.column));
    const baseValue = name in ownSent ? ownSent[name] : input.base?.[name];
    const current = server[name];
    if (field.counter && value !== null && (changedBy.length > 0 || name in ownSent)) {
      write[name] = Number(current ?? 0) + (Number(value) - Number(baseValue ?? 0));
    } else if (field.list && Array.isArray(value) && changedBy.length > 0) {
      write[name] = mergeList(field, Array.isArray(baseValue) ? baseValue : [], value, Array.isArray(current) ? current : []);
    } else if (changedBy.length === 0 || sameValue(field, value, current)) {
      write[name] = value;
    } else {
      const serverWriter = changedBy.at(-1)!.writer;
      if (input.policy === 'LATEST_WRITE_WINS') {
        write[name] = value;
        log.push({ field, reason: 'conflict', kept: 'incoming', lost: current, keptValue: value, serverWriter });
      } else {
        log.push({ field, reason: 'conflict', kept: 'server', lost: value, keptValue: current, serverWriter });
      }
    }
  }
  return { write, log };
}

/**
 * Whether a merge needs the item as it was at the base: a counter or list among the fields sent that
 * changed since (otherwise the server's value still is the base's).
 */
export function needsBase(fields: ReadonlyMap<string, FieldMeta>, incoming: Record<string, unknown>, history: readonly HistoryEntry[]): boolean {
  return Object.keys(incoming).some((name) => {
    const field = fields.get(name)!;
    return (field.counter || field.list) && history.some((e) => e.changed.includes(field.column));
  });
}

/**
 * The server's list with the device's removals (relative to the base) taken out and its additions put
 * in, each once: an element the server already has is not added again (AppSync's Automerge concatenates,
 * so a replayed or concurrent addition would appear twice).
 */
function mergeList(field: FieldMeta, base: readonly unknown[], incoming: readonly unknown[], server: readonly unknown[]): unknown[] {
  const key = (v: unknown) => valueKey(field, v);
  const remaining = incoming.map(key);
  const removed: string[] = [];
  for (const element of base) {
    const at = remaining.indexOf(key(element));
    if (at >= 0) remaining.splice(at, 1);
    else removed.push(key(element));
  }
  const baseKeys = base.map(key);
  const added = incoming.filter((element) => {
    const at = baseKeys.indexOf(key(element));
    if (at < 0) return true;
    baseKeys.splice(at, 1);
    return false;
  });
  const result = [...server];
  for (const gone of removed) {
    const at = result.findIndex((element) => key(element) === gone);
    if (at >= 0) result.splice(at, 1);
  }
  for (const element of added) if (!result.some((e) => key(e) === key(element))) result.push(element);
  return result;
}

/** Equal as values of the field: the same instant in two spellings, the same JSON in two key orders. */
export function sameValue(field: FieldMeta, a: unknown, b: unknown): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  if (field.list) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((element, i) => valueKey(field, element) === valueKey(field, b[i]));
  }
  return valueKey(field, a) === valueKey(field, b);
}

function valueKey(field: FieldMeta, value: unknown): string {
  if (field.type.kind === 'scalar' && field.type.name === 'AWSDateTime' && typeof value === 'string') {
    const time = Date.parse(value);
    if (!Number.isNaN(time)) return new Date(time).toISOString();
  }
  if (field.type.kind === 'scalar' && field.type.name === 'AWSJSON' && typeof value === 'string') {
    try {
      return canonical(JSON.parse(value));
    } catch {
      return value;
    }
  }
  return canonical(value);
}

/** JSON with object keys sorted, so that equal values give equal text. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v);
}
