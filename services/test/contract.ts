// The contract every versioned model keeps, run once per model (contract.test.ts): a new model is
// covered by one line there. Model-specific behaviour (conflict strategies, owner rules, filters) has
// its own tests.
import type { ModelMeta } from '@datastore-pg/schema/models';
import type { TestDatabase } from '@datastore-pg/testing';
import { dispatcher, invoke, ok, syncAll, type SyncPage } from './appsync';
import { anotherValue, createItem, editableField, identityFor, otherEditableField, sampleInput } from './fixtures';
import { handlers } from './handlers';

type Item = Record<string, unknown> & { id: string; _version: number; _deleted: boolean; _lastChangedAt: number };

export function describeVersionedModel(model: ModelMeta, db: TestDatabase): void {
  const handler = handlers[model.name]!;
  const identity = identityFor(model);
  const field = editableField(model);
  const create = (overrides: Record<string, unknown> = {}) => createItem(model, identity, overrides) as Promise<Item>;
  const update = (input: Record<string, unknown>) => invoke(handler, `update${model.name}`, { input, condition: null }, identity);
  const remove = (input: Record<string, unknown>) => invoke(handler, `delete${model.name}`, { input, condition: null }, identity);
  // Another writer (a dispatcher's device) than the one the tests act as.
  const updateByOther = (input: Record<string, unknown>) => ok<Item>(handler, `update${model.name}`, { input, condition: null }, dispatcher);
  const get = (id: string) => ok<Item | null>(handler, `get${model.name}`, { id }, identity);
  const conflictsOf = (id: string) => db.sql`
    select field, reason, kept, lost_value, kept_value, base_version::int, server_version::int, new_version::int, writer, server_writer
      from versioning.conflicts where base_table = ${model.table}::regclass and item_id = ${id} order by id`;

  describe(`${model.name} (${model.table}, ${model.conflictHandler})`, () => {
    test('create answers the item at version 1 with its metadata and timestamps', async () => {
      const before = Date.now();
      const item = await create();
      expect(item).toMatchObject({ _version: 1, _deleted: false });
      expect(item._lastChangedAt).toBeGreaterThanOrEqual(before - 1000);
      if (model.fields.some((f) => f.name === 'createdAt')) expect(item.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(await get(item.id)).toEqual(item);
    });

    test('update changes only the fields sent and bumps the version', async () => {
      const item = await create();
      const value = anotherValue(field, item[field.name]);

      const updated = await update({ id: item.id, _version: 1, [field.name]: value });

      expect(updated).toEqual({ data: { ...item, [field.name]: value, _version: 2, _lastChangedAt: expect.any(Number), ...timestampsAfter(item) } });
    });

    if (model.conflictHandler === 'OPTIMISTIC_CONCURRENCY') {
      test('a stale update answers ConflictUnhandled with the server item, changes nothing, and is logged once however often it is sent', async () => {
        // DataStore's default conflict handler may discard the edit after sending it up to ten times
        // (design.md §6): the refused value stays in the conflict log.
        const item = await create();
        const current = await updateByOther({ id: item.id, _version: 1, [field.name]: anotherValue(field, item[field.name]) });
        const refused = anotherValue(field, current[field.name]);

        const stale = await update({ id: item.id, _version: 1, [field.name]: refused });

        expect(stale).toEqual({ data: current, errorType: 'ConflictUnhandled', errorMessage: expect.any(String) });
        expect(await update({ id: item.id, _version: 1, [field.name]: refused })).toMatchObject({ errorType: 'ConflictUnhandled' });
        expect(await get(item.id)).toEqual(current);
        expect(await conflictsOf(item.id)).toEqual([expect.objectContaining({
          field: field.name, reason: 'rejected', kept: 'server', lost_value: refused, kept_value: current[field.name], base_version: 1, server_version: 2, new_version: null,
        })]);
      });
    }

    test('delete leaves a tombstone at the next version', async () => {
      const item = await create();

      const deleted = await remove({ id: item.id, _version: 1 });

      expect(deleted).toEqual({ data: expect.objectContaining({ id: item.id, _version: 2, _deleted: true }) });
      expect(await get(item.id)).toMatchObject({ _version: 2, _deleted: true });
    });

    if (model.conflictHandler === 'MERGE') {
      test('a stale update is merged: the server\'s change since the base and the device\'s both stay', async () => {
        // 1. a device reads v1  2. another writer changes one field (v2)  3. the device, still at v1,
        // changes another field  4. both changes are in v3, and the answer is a success, not a conflict.
        const other = otherEditableField(model, field);
        const item = await create();
        const serverValue = anotherValue(other, item[other.name]);
        await updateByOther({ id: item.id, _version: 1, [other.name]: serverValue });
        const deviceValue = anotherValue(field, item[field.name]);

        const merged = await update({ id: item.id, _version: 1, [field.name]: deviceValue });

        expect(merged).toEqual({ data: expect.objectContaining({ [other.name]: serverValue, [field.name]: deviceValue, _version: 3 }) });
        expect(await get(item.id)).toEqual((merged as { data: Item }).data);
        expect(await conflictsOf(item.id)).toEqual([]);
      });

      test('a field both sides changed: the later write wins and the value it replaced is in the conflict log', async () => {
        const item = await create();
        const serverValue = anotherValue(field, item[field.name]);
        await updateByOther({ id: item.id, _version: 1, [field.name]: serverValue });
        const deviceValue = anotherValue(field, serverValue);

        const merged = await update({ id: item.id, _version: 1, [field.name]: deviceValue });

        expect(merged).toEqual({ data: expect.objectContaining({ [field.name]: deviceValue, _version: 3 }) });
        expect(await conflictsOf(item.id)).toEqual([expect.objectContaining({
          field: field.name, reason: 'conflict', kept: 'incoming', lost_value: serverValue, kept_value: deviceValue,
          base_version: 1, server_version: 2, new_version: 3, writer: expect.any(String), server_writer: 'user:dispatcher',
        })]);
      });

      test('beyond the merge horizon the device\'s fields are applied over the server\'s, and the replaced values logged', async () => {
        const item = await create();
        const serverValue = anotherValue(field, item[field.name]);
        await updateByOther({ id: item.id, _version: 1, [field.name]: serverValue });
        await db.sql`delete from ${db.sql(`versioning_merge.${model.table}`)} where id = ${item.id} and _version = 2`; // as purge would

        const merged = await update({ id: item.id, _version: 1, [field.name]: item[field.name] });

        expect(merged).toEqual({ data: expect.objectContaining({ [field.name]: item[field.name], _version: 3 }) });
        expect(await conflictsOf(item.id)).toEqual([expect.objectContaining({ field: field.name, reason: 'beyond_horizon', lost_value: serverValue })]);
      });

      test('an edit of a deleted item answers the tombstone (the device deletes it too) and the edit is logged', async () => {
        const item = await create();
        await remove({ id: item.id, _version: 1 });
        const value = anotherValue(field, item[field.name]);

        const answer = await update({ id: item.id, _version: 1, [field.name]: value });

        expect(answer).toEqual({ data: expect.objectContaining({ id: item.id, _version: 2, _deleted: true }) });
        expect(await conflictsOf(item.id)).toEqual([expect.objectContaining({ field: field.name, reason: 'deleted', kept: 'server', lost_value: value, new_version: null })]);
      });

      test('a stale delete deletes', async () => {
        const item = await create();
        await update({ id: item.id, _version: 1, [field.name]: anotherValue(field, item[field.name]) });

        expect(await remove({ id: item.id, _version: 1 })).toEqual({ data: expect.objectContaining({ id: item.id, _version: 3, _deleted: true }) });
      });
    } else {
      test('an update or delete without _version is refused and changes nothing (MERGE bases it on the item\'s creation)', async () => {
        const item = await create();

        expect(await update({ id: item.id, [field.name]: anotherValue(field, item[field.name]) })).toMatchObject({ errorType: 'ValidationError' });
        expect(await remove({ id: item.id })).toMatchObject({ errorType: 'ValidationError' });
        expect(await get(item.id)).toEqual(item);
      });
    }

    if (model.conflictHandler !== 'CUSTOM' && model.conflictHandler !== 'MERGE') { // a custom hook decides: see the model's own tests
      test('a stale delete answers ConflictUnhandled and deletes nothing', async () => {
        const item = await create();
        await update({ id: item.id, _version: 1, [field.name]: anotherValue(field, item[field.name]) });

        const stale = await remove({ id: item.id, _version: 1 });

        expect(stale).toMatchObject({ errorType: 'ConflictUnhandled', data: { id: item.id, _version: 2, _deleted: false } });
        expect(await get(item.id)).toMatchObject({ _deleted: false });
      });
    }

    test('an update sent again after its answer was lost applies once: it answers the item as it is now, no new version', async () => {
      // 1. the device sends an update (v2) and loses the answer  2. another writer moves the item to v3
      // 3. the device sends the same update again, still based on v1: it is recognized, nothing changes.
      const item = await create();
      const sent = { id: item.id, _version: 1, [field.name]: anotherValue(field, item[field.name]) };
      await update(sent);
      const v3 = await updateByOther({ id: item.id, _version: 2 });

      expect(await update(sent)).toEqual({ data: v3 });
      expect(await get(item.id)).toEqual(v3);
    });

    test('a delete sent again after its answer was lost answers the tombstone', async () => {
      const item = await create();
      const tombstone = await remove({ id: item.id, _version: 1 });

      expect(await remove({ id: item.id, _version: 1 })).toEqual(tombstone);
      expect(await get(item.id)).toMatchObject({ _version: 2, _deleted: true });
    });

    test('a create sent again after its answer was lost answers the item; another create of that id answers ConflictUnhandled', async () => {
      const input = await sampleInput(model);
      const item = await ok<Item>(handler, `create${model.name}`, { input, condition: null }, identity);

      expect(await invoke(handler, `create${model.name}`, { input, condition: null }, identity)).toEqual({ data: item });
      const other = { ...input, [field.name]: anotherValue(field, input[field.name]) };
      expect(await invoke(handler, `create${model.name}`, { input: other, condition: null }, identity))
        .toEqual({ data: item, errorType: 'ConflictUnhandled', errorMessage: expect.any(String) });
      expect(await get(item.id)).toEqual(item);
    });

    test('a full sync pages until nextToken is null; every page has the first page\'s startedAt', async () => {
      const created: Item[] = [];
      for (let i = 0; i < 7; i++) created.push(await create());

      const { pages, items } = await syncAll(handler, model, { lastSync: 0, limit: 3 }, identity);

      expect(pages.length).toBeGreaterThanOrEqual(3);
      expect(new Set(pages.map((p) => p.startedAt)).size).toBe(1);
      expect(pages.slice(0, -1).every((p) => p.items.length === 3 && p.nextToken !== null)).toBe(true);
      const ids = items.map((i) => i.id);
      expect(new Set(ids).size).toBe(ids.length); // no item twice
      expect(ids).toEqual(expect.arrayContaining(created.map((c) => c.id)));
      expect(items.find((i) => i.id === created[0]!.id)).toEqual(created[0]);
    });

    test('a delta sync returns what changed since lastSync, latest version only, tombstones included', async () => {
      // 1. a device syncs fully  2. one item is updated twice, one created, one deleted
      // 3. the device's next sync (lastSync = startedAt) returns exactly those three, at their last version.
      const [kept, edited, deleted] = [await create(), await create(), await create()];
      await settle(); // see settle()
      const { startedAt } = await syncAll(handler, model, { lastSync: 0 }, identity);
      const v2 = (await update({ id: edited.id, _version: 1, [field.name]: anotherValue(field, edited[field.name]) })).data as Item;
      await update({ id: edited.id, _version: 2, [field.name]: anotherValue(field, v2[field.name]) });
      const added = await create();
      await remove({ id: deleted.id, _version: 1 });

      const delta = await syncAll(handler, model, { lastSync: startedAt }, identity);

      expect(delta.items.map((i) => [i.id, i._version, i._deleted]).sort()).toEqual(
        [[edited.id, 3, false], [added.id, 1, false], [deleted.id, 2, true]].sort(),
      );
      expect(delta.items.some((i) => i.id === kept.id)).toBe(false);
      expect(delta.startedAt).toBeGreaterThanOrEqual(startedAt);
    });

    test('an incremental base sync (lastSync older than the delta TTL) returns the same changes from the base table', async () => {
      const { startedAt } = await syncAll(handler, model, { lastSync: 0 }, identity);
      const item = await create();
      // Make the delta table too short-lived to answer: the sync must fall back to the base table.
      await db.sql`update versioning.models set delta_sync_table_ttl = '1 millisecond' where base_table = ${model.table}::regclass`;
      try {
        await db.sql`delete from ${db.sql(`versioning_delta.${model.table}`)} where id = ${item.id}`;
        const { items } = await syncAll(handler, model, { lastSync: startedAt }, identity);
        expect(items.map((i) => i.id)).toEqual([item.id]);
      } finally {
        await db.sql`update versioning.models set delta_sync_table_ttl = '30 minutes' where base_table = ${model.table}::regclass`;
      }
    });

    test('a write made by plain SQL shows up in the next delta sync', async () => {
      const item = await create();
      const { startedAt } = await syncAll(handler, model, { lastSync: 0 }, identity);

      await db.sql`update ${db.sql(model.table)} set _deleted = true where ${db.sql(model.fields.find((f) => f.name === 'id')!.column)} = ${item.id}`;

      const { items } = await syncAll(handler, model, { lastSync: startedAt }, identity);
      expect(items).toEqual([expect.objectContaining({ id: item.id, _version: 2, _deleted: true })]);
    });

    test('a purged tombstone leaves the table for the graveyard: full syncs still send the deletion, get finds nothing', async () => {
      const item = await create();
      const { startedAt } = await syncAll(handler, model, { lastSync: 0 }, identity);
      await db.sql`update versioning.models set base_table_ttl = '1 millisecond' where base_table = ${model.table}::regclass`;
      try {
        await remove({ id: item.id, _version: 1 });
        expect((await syncAll(handler, model, { lastSync: startedAt }, identity)).items).toEqual([expect.objectContaining({ id: item.id, _deleted: true })]);
        await new Promise((done) => setTimeout(done, 5));
        await db.sql`call versioning.purge()`;
        const idColumn = db.sql(model.fields.find((f) => f.name === 'id')!.column);
        expect(await db.sql`select from ${db.sql(model.table)} where ${idColumn} = ${item.id}`).toHaveLength(0);
        const full = await syncAll(handler, model, { lastSync: 0 }, identity);
        expect(full.items.filter((i) => i.id === item.id)).toEqual([expect.objectContaining({ _version: 2, _deleted: true })]);
        expect(await get(item.id)).toBeNull();
      } finally {
        await db.sql`update versioning.models set base_table_ttl = '30 days' where base_table = ${model.table}::regclass`;
      }
    });

    test('sync pages carry a tamper-evident token', async () => {
      await create();
      await create();
      const first = await ok<SyncPage>(handler, `sync${model.pluralName}`, { filter: null, limit: 1, lastSync: 0, nextToken: null }, identity);
      const token = first.nextToken!;
      const tampered = token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11);

      const result = await invoke(handler, `sync${model.pluralName}`, { filter: null, limit: 1, lastSync: 0, nextToken: tampered }, identity);

      expect(result).toMatchObject({ data: null, errorType: 'InvalidNextToken' });
    });
  });
}

/**
 * The sync watermark sits a millisecond below "now": a write in the very last millisecond before a sync
 * belongs to the next window (correctly). Tests that expect a write inside a window give it a moment.
 */
function settle(): Promise<void> {
  return new Promise((done) => setTimeout(done, 10));
}

function timestampsAfter(item: Record<string, unknown>): Record<string, unknown> {
  return 'updatedAt' in item ? { createdAt: item.createdAt, updatedAt: expect.any(String) } : {};
}
