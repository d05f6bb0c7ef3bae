// get<Model>(id) and create/update/delete<Model>(input, condition). An update or delete at the current
// version is one statement (writeIfCurrent); anything else runs in a transaction that locks the row and
// finds out why (conflict, tombstone, missing, someone else's, a condition). The triggers stamp the new
// version and journal it (generated per table: migrations/000005_table_triggers.sql).
import { randomUUID } from 'node:crypto';
import { transaction, type Tx } from '@datastore-pg/db';
import type { FieldMeta } from '@datastore-pg/schema/models';
import { mayAccess, ownerIdentity, unauthorized, type Access, type Caller } from './auth';
import { automerge, type ConflictResolution, type ResolveConflict } from './conflict';
import { DataStoreError, ErrorCode, invalid } from './errors';
import { compileFilter, isObject } from './filter';
import { itemColumns, ownedBy, toItem, type Item, type Row } from './items';
import { columnOf, type ModelRuntime } from './runtime';
import { bind, joinFragments, type Fragment } from './sql-values';
import { inputValue, scalarValue } from './values';

export interface WriteContext {
  runtime: ModelRuntime;
  caller: Caller;
  access: Access;
  resolveConflict?: ResolveConflict;
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
  const values = fieldValues(runtime, input, { except: ['id', '_version'] });
  const id = input.id === undefined || input.id === null ? randomUUID() : idArg(runtime, input.id);
  values.set(runtime.idField, id);
  stampOwner(ctx, values); // before the required check: an owner field the server fills is not missing
  for (const field of model.fields) {
    if (field.required && !field.readOnly && !values.has(field)) throw invalid(`${field.name} is required`);
  }

  const fields = [...values.keys()];
  const [row] = await sql<Row[]>`
    insert into ${sql(model.table)} as t (${joinFragments(sql, fields.map((f) => sql`${sql(f.column)}`), sql`,`)})
    values (${joinFragments(sql, fields.map((f) => bind(sql, columnOf(runtime, f), values.get(f))), sql`,`)})
    on conflict (${sql(runtime.idField.column)}) do nothing
    returning ${itemColumns(runtime)}`;
  if (row) return toItem(runtime, row);

  // The id exists (a retried create whose first answer was lost, or a collision): answer with the
  // server's item so the client converges on it instead of forking a second copy.
  const existing = await get(runtime, access, { id });
  if (!existing) throw unauthorized();
  throw conflict(existing);
}

export async function update(ctx: WriteContext, args: Record<string, unknown>): Promise<Item> {
  const { runtime } = ctx;
  const input = inputArg(args.input);
  const id = idArg(runtime, input.id);
  const version = versionArg(input._version);
  const values = fieldValues(runtime, input, { except: ['id', '_version'] });
  checkOwnerChange(ctx, values);
  if (args.condition === null || args.condition === undefined) {
    const item = await writeIfCurrent(ctx, id, version, assignments(runtime, values));
    if (item) return item;
  }
  return transaction(runtime.sql, async (tx) => {
    const server = await lockForWrite(ctx, tx, id, args.condition);
    if (server._deleted) throw conflict(server);
    if (server._version === version) return write(runtime, tx, id, values);
    // The client's fields as it sent them (already checked above): merged or resolved data is checked
    // once more on its way to the database, and a value must not go through that check twice.
    const { id: _id, _version: _incomingVersion, ...incoming } = input;
    switch (runtime.model.conflictHandler) {
      case 'OPTIMISTIC_CONCURRENCY':
        throw conflict(server);
      case 'AUTOMERGE': {
        const merged = fieldValues(runtime, automerge(runtime.fields, server, incoming), { except: [] });
        return merged.size === 0 ? server : write(runtime, tx, id, merged);
      }
      case 'CUSTOM':
        return applyResolution(ctx, tx, id, server, await customResolution(ctx, 'UPDATE', server, incoming, version));
    }
  });
}

export async function remove(ctx: WriteContext, args: Record<string, unknown>): Promise<Item> {
  const { runtime } = ctx;
  const input = inputArg(args.input);
  for (const key of Object.keys(input)) {
    if (key !== 'id' && key !== '_version') throw invalid('delete takes only id and _version');
  }
  const id = idArg(runtime, input.id);
  const version = versionArg(input._version);
  if (args.condition === null || args.condition === undefined) {
    const item = await writeIfCurrent(ctx, id, version, runtime.sql`_deleted = true`);
    if (item) return item;
  }
  return transaction(runtime.sql, async (tx) => {
    const server = await lockForWrite(ctx, tx, id, args.condition);
    if (server._deleted) throw conflict(server);
    if (server._version === version) return tombstone(runtime, tx, id);
    if (runtime.model.conflictHandler !== 'CUSTOM') throw conflict(server);
    return applyResolution(ctx, tx, id, server, await customResolution(ctx, 'DELETE', server, {}, version));
  });
}

/** Locks the row for the rest of the transaction and checks access and condition. */
async function lockForWrite(ctx: WriteContext, tx: Tx, id: unknown, condition: unknown): Promise<Item> {
  const { runtime, access } = ctx;
  const { sql, model } = runtime;
  const idColumn = sql(runtime.idField.column);
  const predicate = condition === null || condition === undefined ? sql`true` : compileFilter(runtime, condition);
  const [row] = await tx<(Row & { _condition_holds: boolean })[]>`
    select ${itemColumns(runtime)}, (${predicate}) is true as _condition_holds
      from ${sql(model.table)} t where t.${idColumn} = ${id as string} for update`;
  if (!row) throw new DataStoreError(ErrorCode.NotFound, `no ${model.name} has this id`);
  const { _condition_holds: conditionHolds, ...columns } = row;
  const server = toItem(runtime, columns);
  if (!mayAccess(access, server)) throw unauthorized();
  if (!conditionHolds) throw new DataStoreError(ErrorCode.ConditionalCheckFailed, 'the condition did not hold', { data: server });
  return server;
}

async function customResolution(ctx: WriteContext, operation: 'UPDATE' | 'DELETE', server: Item, incoming: Record<string, unknown>, incomingVersion: number): Promise<ConflictResolution> {
  if (!ctx.resolveConflict) throw new DataStoreError(ErrorCode.InternalError, 'internal error', { cause: new Error(`${ctx.runtime.model.name} has no resolveConflict hook`) });
  const resolution = await ctx.resolveConflict({ operation, server, incoming, incomingVersion, caller: ctx.caller });
  if (!isObject(resolution) || !['RESOLVE', 'REJECT', 'REMOVE'].includes(String(resolution.action))) {
    throw new DataStoreError(ErrorCode.InternalError, 'internal error', { cause: new Error(`resolveConflict of ${ctx.runtime.model.name} returned no valid action`) });
  }
  return resolution;
}

async function applyResolution(ctx: WriteContext, tx: Tx, id: unknown, server: Item, resolution: ConflictResolution): Promise<Item> {
  switch (resolution.action) {
    case 'REJECT':
      throw conflict(server);
    case 'REMOVE':
      return tombstone(ctx.runtime, tx, id);
    case 'RESOLVE': {
      const values = fieldValues(ctx.runtime, resolution.data, { except: ['id', '_version'] });
      checkOwnerChange(ctx, values);
      return write(ctx.runtime, tx, id, values);
    }
  }
}

/**
 * The common case in one statement, no transaction around it: the row is the caller's, at the version
 * the client based its change on, not a tombstone. Anything else (a conflict, a tombstone, no such row,
 * someone else's row) touches no row and goes to the locking path, which finds out which it is.
 */
async function writeIfCurrent(ctx: WriteContext, id: string, version: number, set: Fragment): Promise<Item | undefined> {
  const { runtime, access } = ctx;
  const { sql, model } = runtime;
  const [row] = await sql<Row[]>`
    update ${sql(model.table)} t set ${set}
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

async function write(runtime: ModelRuntime, tx: Tx, id: unknown, values: Values): Promise<Item> {
  const { sql, model } = runtime;
  const [row] = await tx<Row[]>`update ${sql(model.table)} t set ${assignments(runtime, values)} where t.${sql(runtime.idField.column)} = ${id as string} returning ${itemColumns(runtime)}`;
  return toItem(runtime, row!);
}

async function tombstone(runtime: ModelRuntime, tx: Tx, id: unknown): Promise<Item> {
  const { sql, model } = runtime;
  const idColumn = sql(runtime.idField.column);
  const [row] = await tx<Row[]>`update ${sql(model.table)} t set _deleted = true where t.${idColumn} = ${id as string} returning ${itemColumns(runtime)}`;
  return toItem(runtime, row!);
}

/** The client's fields, checked: known, writable, of the right type, required ones not null. */
function fieldValues(runtime: ModelRuntime, input: Record<string, unknown>, options: { except: string[] }): Values {
  const values: Values = new Map();
  for (const [name, value] of Object.entries(input)) {
    if (options.except.includes(name)) continue;
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

function idArg(runtime: ModelRuntime, id: unknown): string {
  if (id === null || id === undefined) throw invalid('id is required');
  return scalarValue(runtime.idField, columnOf(runtime, runtime.idField), id) as string;
}

function versionArg(version: unknown): number {
  if (!Number.isSafeInteger(version) || (version as number) < 1) throw invalid('_version is required: the version this change is based on');
  return version as number;
}
