// get<Model>(id) and create/update/delete<Model>(input, condition). An update or delete at the current
// version is one statement (writeIfCurrent); anything else runs in a transaction that locks the row and
// finds out why (a stale base, a replay, a tombstone, missing, someone else's, a condition) and settles
// it by the model's conflict strategy. The triggers stamp the new version and journal it, with who wrote
// it and from which base (migrations/000006_merge.sql, history.ts).
import { randomUUID } from 'node:crypto';
import { transaction, type Tx } from '@datastore-pg/db';
import type { FieldMeta } from '@datastore-pg/schema/models';
import { mayAccess, ownerIdentity, unauthorized, type Access, type Caller } from './auth';
import { automerge, type ConflictContext, type ConflictResolution, type ResolveConflict } from './conflict';
import { DataStoreError, ErrorCode, invalid } from './errors';
import { compileFilter, isObject } from './filter';
import { completeHistory, conflictsInsert, historySince, logConflicts, readBase, readHistory, writeInfo, type WriteInfo } from './history';
import { itemColumns, ownedBy, toItem, type Item, type Row } from './items';
import { isReplay, merge, needsBase, sameValue, type HistoryEntry, type LoggedValue } from './merge';
import type { RequestOutcome } from './observability';
import { columnOf, type ModelRuntime } from './runtime';
import { bind, joinFragments, type Fragment } from './sql-values';
import { inputValue, scalarValue } from './values';

export interface WriteContext {
  runtime: ModelRuntime;
  caller: Caller;
  /** The caller as the merge history records it (writerOf). */
  writer: string;
  access: Access;
  resolveConflict?: ResolveConflict;
  /** What the write did, for the request's log line and metrics: merged, conflicts logged. */
  outcome: RequestOutcome;
}

type Values = Map<FieldMeta, unknown>;

export async function get(runtime: ModelRuntime, access: Access, args: Record<string, unknown>): Promise<Item | null> {
  const { sql, model } = runtime;
  const id = idArg(runtime, args.id);
  const [row] = await sql<Row[]>`select ${itemColumns(runtime)} from ${sql(model.table)} t where t.${sql(runtime.idField.column)} = ${id}`;
  if (!row) return null;
  const item = toItem(runtime, row);
  if (!mayAccess(access, item)) throw unauthorized();
  return item;
}

export async function create(ctx: WriteContext, args: Record<string, unknown>): Promise<Item> {
  const { runtime, access } = ctx;
  const { sql, model } = runtime;
  if (args.condition !== null && args.condition !== undefined) throw invalid('condition is not supported on create');
  const input = inputArg(args.input);
  if (input._version !== undefined && input._version !== null) throw invalid('_version is set by the server on create');
  const { id: _id, _version: _v, ...sent } = input;
  const values = fieldValues(runtime, sent);
  applyDefaults(runtime, values);
  const id = input.id === undefined || input.id === null ? randomUUID() : idArg(runtime, input.id);
  values.set(runtime.idField, id);
  const info: WriteInfo = { id, writer: ctx.writer, base: 0, sent };
  stampOwner(ctx, values); // before the required check: an owner field the server fills is not missing
  for (const field of model.fields) {
    if (field.required && !field.readOnly && !values.has(field)) throw invalid(`${field.name} is required`);
  }

  const fields = [...values.keys()];
  const [row] = await sql<Row[]>`
    insert into ${sql(model.table)} as t (${joinFragments(sql, fields.map((f) => sql`${sql(f.column)}`), sql`,`)})
    select ${joinFragments(sql, fields.map((f) => bind(sql, columnOf(runtime, f), values.get(f))), sql`,`)} from ${writeInfo(runtime, info)}
    on conflict (${sql(runtime.idField.column)}) do nothing
    returning ${itemColumns(runtime)}`;
  if (row) return toItem(runtime, row);

  // The id exists. This very create sent again (its answer was lost) answers the item as it is now;
  // anything else (a collision) answers ConflictUnhandled with the server's item, so the client
  // converges on it instead of forking a second copy.
  const existing = await get(runtime, access, { id });
  if (!existing) throw unauthorized();
  const history = await readHistory(sql, runtime, id, 0, existing._version);
  if (history && isReplay(history, ctx.writer, isDevice(ctx), 0, sent)) return existing;
  throw conflict(existing);
}

export async function update(ctx: WriteContext, args: Record<string, unknown>): Promise<Item> {
  const { runtime } = ctx;
  const input = inputArg(args.input);
  const id = idArg(runtime, input.id);
  const version = baseVersionArg(runtime, input._version);
  // The client's fields as it sent them: the merge works from them, and merged or resolved data is
  // checked once more on its way to the database (a value must not go through that check twice).
  const { id: _id, _version: _v, ...incoming } = input;
  const values = fieldValues(runtime, incoming);
  checkOwnerChange(ctx, values);
  const info: WriteInfo = { id, writer: ctx.writer, base: version, sent: incoming };
  if (args.condition === null || args.condition === undefined) {
    const item = await writeIfCurrent(ctx, id, version, assignments(runtime, values), info);
    if (item) return item;
  }
  return settled(transaction(runtime.sql, async (tx) => {
    const { server, history } = await lockForWrite(ctx, tx, id, args.condition, version);
    if (server._version === version && !server._deleted) return write(runtime, tx, id, values, info);
    if (history && isReplay(history, ctx.writer, isDevice(ctx), version, incoming)) return server;
    const strategy = runtime.model.conflictHandler;
    if (server._deleted) {
      // The deletion stands, and what the device sent is logged, restorable. Under MERGE the device takes
      // the tombstone as the answer (no retries); otherwise its conflict handler decides.
      await refuse(ctx, tx, server, history, version, incoming, 'deleted');
      return strategy === 'MERGE' ? server : conflict(server);
    }
    switch (strategy) {
      case 'OPTIMISTIC_CONCURRENCY':
        // The client's conflict handler decides; DataStore's default one may discard the edit (design.md
        // §6), so it is logged first.
        await refuse(ctx, tx, server, history, version, incoming, 'rejected');
        return conflict(server);
      case 'AUTOMERGE': {
        const merged = automerge(runtime.fields, server, incoming);
        const item = Object.keys(merged).length === 0 ? server : await write(runtime, tx, id, fieldValues(runtime, merged), info);
        const refusedFields = Object.fromEntries(Object.entries(incoming).filter(([name]) => !(name in merged)));
        ctx.outcome.merged = item !== server;
        ctx.outcome.conflictsLogged = await logConflicts(tx, runtime, String(server.id), ctx.writer, { base: version, server: server._version, written: item === server ? null : item._version },
          refused(runtime, refusedFields, server, history, 'automerge'));
        return item;
      }
      case 'CUSTOM': {
        const base = history ? await readBase(tx, runtime, String(server.id), version) : null;
        const resolution = await customResolution(ctx, { operation: 'UPDATE', server, base, incoming, incomingVersion: version });
        if (resolution.action === 'REJECT') await refuse(ctx, tx, server, history, version, incoming, 'rejected');
        return applyResolution(ctx, tx, id, server, resolution, info);
      }
      case 'MERGE': {
        const base = history && needsBase(runtime.fields, incoming, history) ? await readBase(tx, runtime, String(server.id), version) : null;
        const merged = merge({
          fields: runtime.fields, policy: runtime.model.fieldConflict, server, base, history, incoming, baseVersion: version,
          writer: ctx.writer, writerIsDevice: isDevice(ctx),
        });
        // The write takes the next version (the row is locked), and logs what it overwrote in the same statement.
        const logged = merged.log.length === 0 ? undefined
          : conflictsInsert(runtime, String(server.id), ctx.writer, { base: version, server: server._version, written: server._version + 1 }, merged.log);
        ctx.outcome.merged = true;
        ctx.outcome.conflictsLogged = merged.log.length;
        return writeRow(runtime, tx, id, assignments(runtime, fieldValues(runtime, merged.write)), info, logged);
      }
    }
  }));
}

export async function remove(ctx: WriteContext, args: Record<string, unknown>): Promise<Item> {
  const { runtime } = ctx;
  const input = inputArg(args.input);
  for (const key of Object.keys(input)) {
    if (key !== 'id' && key !== '_version') throw invalid('delete takes only id and _version');
  }
  const id = idArg(runtime, input.id);
  const version = baseVersionArg(runtime, input._version);
  const info: WriteInfo = { id, writer: ctx.writer, base: version, sent: {} };
  if (args.condition === null || args.condition === undefined) {
    const item = await writeIfCurrent(ctx, id, version, runtime.sql`_deleted = true`, info);
    if (item) return item;
  }
  return settled(transaction(runtime.sql, async (tx) => {
    const { server, history } = await lockForWrite(ctx, tx, id, args.condition, version);
    if (server._version === version && !server._deleted) return tombstone(runtime, tx, id, info);
    if (history && isReplay(history, ctx.writer, isDevice(ctx), version, {})) return server;
    const strategy = runtime.model.conflictHandler;
    if (server._deleted) return strategy === 'MERGE' ? server : conflict(server); // deleted already: what the device wants
    switch (strategy) {
      case 'MERGE':
        // A stale delete deletes: the fields others changed since stay in the tombstone until purge.
        ctx.outcome.merged = true;
        return tombstone(runtime, tx, id, info);
      case 'CUSTOM': {
        const base = history ? await readBase(tx, runtime, String(server.id), version) : null;
        return applyResolution(ctx, tx, id, server, await customResolution(ctx, { operation: 'DELETE', server, base, incoming: {}, incomingVersion: version }), info);
      }
      default:
        // Not logged: DataStore's default handler sends a refused delete again at the server's version.
        return conflict(server);
    }
  }));
}

/**
 * A transaction's outcome: its item, or the conflict it decided on, thrown only once the transaction has
 * committed, so that what it logged on the way stays logged.
 */
async function settled(outcome: Promise<Item | DataStoreError>): Promise<Item> {
  const result = await outcome;
  if (result instanceof DataStoreError) throw result;
  return result;
}

/** What a write sent and did not get, for the conflict log: each field the server kept another value of. */
function refused(runtime: ModelRuntime, fields: Record<string, unknown>, server: Item, history: readonly HistoryEntry[] | null, reason: LoggedValue['reason']): LoggedValue[] {
  return Object.entries(fields)
    .filter(([name, value]) => !sameValue(runtime.fields.get(name)!, value, server[name]))
    .map(([name, value]) => {
      const field = runtime.fields.get(name)!;
      return { field, reason, kept: 'server', lost: value, keptValue: server[name], serverWriter: lastWriterOf(history, field) };
    });
}

/** Who last changed the field since the base, when the history says (null: a writer outside the API, or unknown). */
function lastWriterOf(history: readonly HistoryEntry[] | null, field: FieldMeta): string | null {
  return history?.findLast((e) => e.changed.includes(field.column))?.writer ?? null;
}

/** Whether one writer is one device: a signed-in user (behind an API key or an IAM role, many are one). */
function isDevice(ctx: WriteContext): boolean {
  return ctx.caller.kind === 'userPools';
}

/** Logs a write refused as a whole (nothing written). */
async function refuse(ctx: WriteContext, tx: Tx, server: Item, history: readonly HistoryEntry[] | null, baseVersion: number, fields: Record<string, unknown>, reason: LoggedValue['reason']): Promise<void> {
  ctx.outcome.conflictsLogged = await logConflicts(tx, ctx.runtime, String(server.id), ctx.writer, { base: baseVersion, server: server._version, written: null },
    refused(ctx.runtime, fields, server, history, reason));
}

/**
 * Locks the row for the rest of the transaction and checks access and condition. Reads, in the same
 * statement, the merge history since the write's base: every path but the plain one needs it.
 */
async function lockForWrite(ctx: WriteContext, tx: Tx, id: unknown, condition: unknown, baseVersion: number): Promise<{ server: Item; history: HistoryEntry[] | null }> {
  const { runtime, access } = ctx;
  const { sql, model } = runtime;
  const idColumn = sql(runtime.idField.column);
  const predicate = condition === null || condition === undefined ? sql`true` : compileFilter(runtime, condition);
  const [row] = await tx<(Row & { _condition_holds: boolean; _history: unknown })[]>`
    select ${itemColumns(runtime)}, (${predicate}) is true as _condition_holds,
           ${historySince(runtime, sql`t.${idColumn}::text`, baseVersion)} as _history
      from ${sql(model.table)} t where t.${idColumn} = ${id as string} for update`;
  if (!row) throw new DataStoreError(ErrorCode.NotFound, `no ${model.name} has this id`);
  const { _condition_holds: conditionHolds, _history: history, ...columns } = row;
  const server = toItem(runtime, columns);
  if (!mayAccess(access, server)) throw unauthorized();
  if (!conditionHolds) throw new DataStoreError(ErrorCode.ConditionalCheckFailed, 'the condition did not hold', { data: server });
  // A base newer than the server's version was never handed out.
  if (baseVersion > server._version) throw conflict(server);
  return { server, history: completeHistory(history, baseVersion, server._version) };
}

async function customResolution(ctx: WriteContext, conflictContext: Omit<ConflictContext, 'caller'>): Promise<ConflictResolution> {
  if (!ctx.resolveConflict) throw new DataStoreError(ErrorCode.InternalError, 'internal error', { cause: new Error(`${ctx.runtime.model.name} has no resolveConflict hook`) });
  const resolution = await ctx.resolveConflict({ ...conflictContext, caller: ctx.caller });
  if (!isObject(resolution) || !['RESOLVE', 'REJECT', 'REMOVE'].includes(String(resolution.action))) {
    throw new DataStoreError(ErrorCode.InternalError, 'internal error', { cause: new Error(`resolveConflict of ${ctx.runtime.model.name} returned no valid action`) });
  }
  return resolution;
}

async function applyResolution(ctx: WriteContext, tx: Tx, id: unknown, server: Item, resolution: ConflictResolution, info: WriteInfo): Promise<Item | DataStoreError> {
  switch (resolution.action) {
    case 'REJECT':
      return conflict(server);
    case 'REMOVE':
      ctx.outcome.merged = true;
      return tombstone(ctx.runtime, tx, id, info);
    case 'RESOLVE': {
      const { id: _id, _version: _v, ...data } = resolution.data;
      const values = fieldValues(ctx.runtime, data);
      checkOwnerChange(ctx, values);
      ctx.outcome.merged = true;
      return write(ctx.runtime, tx, id, values, info);
    }
  }
}

/**
 * The common case in one statement, no transaction around it: the row is the caller's, at the version
 * the client based its change on, not a tombstone. Anything else (a conflict, a tombstone, no such row,
 * someone else's row) touches no row and goes to the locking path, which finds out which it is.
 */
async function writeIfCurrent(ctx: WriteContext, id: string, version: number, set: Fragment, info: WriteInfo): Promise<Item | undefined> {
  const { runtime, access } = ctx;
  const { sql, model } = runtime;
  const [row] = await sql<Row[]>`
    update ${sql(model.table)} t set ${set} from ${writeInfo(runtime, info)}
     where t.${sql(runtime.idField.column)} = ${id} and t._version = ${version} and not t._deleted and ${ownedBy(runtime, access)}
    returning ${itemColumns(runtime)}`;
  return row && toItem(runtime, row);
}

/** The SET list of an update. With nothing to change the write still happens, so the version moves on. */
function assignments(runtime: ModelRuntime, values: Values): Fragment {
  const { sql } = runtime;
  const idColumn = sql(runtime.idField.column);
  return values.size === 0
    ? sql`${idColumn} = t.${idColumn}`
    : joinFragments(sql, [...values].map(([field, value]) => sql`${sql(field.column)} = ${bind(sql, columnOf(runtime, field), value)}`), sql`,`);
}

async function write(runtime: ModelRuntime, tx: Tx, id: unknown, values: Values, info: WriteInfo): Promise<Item> {
  return writeRow(runtime, tx, id, assignments(runtime, values), info);
}

async function tombstone(runtime: ModelRuntime, tx: Tx, id: unknown, info: WriteInfo): Promise<Item> {
  return writeRow(runtime, tx, id, runtime.sql`_deleted = true`, info);
}

/** Writes the locked row; with, in the same statement, what else must be written with it (a log entry). */
async function writeRow(runtime: ModelRuntime, tx: Tx, id: unknown, set: Fragment, info: WriteInfo, alongside?: Fragment): Promise<Item> {
  const { sql, model } = runtime;
  const [row] = await tx<Row[]>`
    ${alongside ? sql`with alongside as (${alongside})` : sql``}
    update ${sql(model.table)} t set ${set} from ${writeInfo(runtime, info)}
     where t.${sql(runtime.idField.column)} = ${id as string} returning ${itemColumns(runtime)}`;
  return toItem(runtime, row!);
}

/** The client's fields (without id and _version), checked: known, writable, of the right type, required ones not null. */
function fieldValues(runtime: ModelRuntime, input: Record<string, unknown>): Values {
  const values: Values = new Map();
  for (const [name, value] of Object.entries(input)) {
    const field = runtime.fields.get(name);
    if (!field || field === runtime.idField) {
      if (name === '_deleted' || name === '_lastChangedAt' || name === '_version') throw invalid(`${name} is set by the server`);
      throw invalid(`input has a field ${runtime.model.name} does not have`);
    }
    if (field.readOnly) throw invalid(`${field.name} is set by the server`);
    values.set(field, inputValue(field, columnOf(runtime, field), value));
  }
  return values;
}

/**
 * The @default of each field a create left out: an app built before the field existed does not send it.
 * The default goes through the same check as a client's value, so it reaches SQL as its column takes it.
 * A required field sent as null stays refused (fieldValues): that is a broken client, not an old one. An
 * optional field sent as null takes the default, as under Amplify's resolver ($util.defaultIfNull): DataStore
 * sends null for every field the app did not set (amplify-js datastore/src/datastore/datastore.ts, normalize).
 */
function applyDefaults(runtime: ModelRuntime, values: Values): void {
  for (const field of runtime.model.fields) {
    if (field.default === undefined) continue;
    if (!values.has(field) || (values.get(field) === null && !field.required)) {
      values.set(field, inputValue(field, columnOf(runtime, field), field.default));
    }
  }
}

/** Owner rules: the owner is the caller, never someone else, unless a wider rule (a group) applies. */
function stampOwner(ctx: WriteContext, values: Values): void {
  const { runtime, access, caller } = ctx;
  const rule = runtime.model.auth.find((r) => r.allow === 'owner');
  if (!rule) return;
  const field = runtime.fields.get(rule.ownerField)!;
  if (access.scope === 'owner') {
    const given = values.get(field);
    if (given !== undefined && given !== null && given !== access.owner) throw unauthorized();
    values.set(field, access.owner);
  } else if (!values.has(field) && caller.kind === 'userPools') {
    // A group member creating for themselves: the owner is their identity under the rule's claim, the
    // same one the owner checks compare with later.
    const owner = ownerIdentity(rule, caller);
    if (owner) values.set(field, owner);
  }
}

function checkOwnerChange(ctx: WriteContext, values: Values): void {
  const { access, runtime } = ctx;
  if (access.scope !== 'owner') return;
  const field = runtime.fields.get(access.ownerField)!;
  if (values.has(field) && values.get(field) !== access.owner) throw unauthorized();
}

function conflict(server: Item): DataStoreError {
  return new DataStoreError(ErrorCode.ConflictUnhandled, 'Conflict resolver rejects mutation.', { data: server });
}

function inputArg(input: unknown): Record<string, unknown> {
  if (!isObject(input)) throw invalid('input must be an object');
  return input;
}

/** The id as the database spells it: a uuid in lower case, as the journal and merge history hold it. */
function idArg(runtime: ModelRuntime, id: unknown): string {
  if (id === null || id === undefined) throw invalid('id is required');
  const column = columnOf(runtime, runtime.idField);
  const value = scalarValue(runtime.idField, column, id) as string;
  return column.type === 'uuid' ? value.toLowerCase() : value;
}

/**
 * The version a write is based on. Under MERGE a write without one is based on the item's creation
 * (version 0): DataStore sends an edit queued while the item's create was in flight without _version
 * when the create's answer differed from what it sent (a value the server normalized), and would drop
 * it on an error.
 */
function baseVersionArg(runtime: ModelRuntime, version: unknown): number {
  if ((version === null || version === undefined) && runtime.model.conflictHandler === 'MERGE') return 0;
  if (!Number.isSafeInteger(version) || (version as number) < 1) throw invalid('_version is required: the version this change is based on');
  return version as number;
}
