// The triggers, driven by plain SQL as an ERP or psql would write: no handler code involved.
import { useTestDatabase } from '@datastore-pg/testing';
import { DAY_MS, MINUTE_MS, dbNowMs, deltaRowsOf, insertSite, insertWorkOrder, metadataOf } from './fixtures';

const db = useTestDatabase();
let siteId: string;
beforeAll(async () => {
  siteId = await insertSite(db.sql);
});

describe('insert', () => {
  test('starts at version 1, stamps the change time in ms and journals the row', async () => {
    const before = await dbNowMs(db.sql);
    const id = await insertWorkOrder(db.sql, siteId);
    const after = await dbNowMs(db.sql);

    const meta = await metadataOf(db.sql, 'work_orders', id);
    expect(meta).toMatchObject({ _version: 1, _deleted: false, _ttl: null });
    expect(meta._last_changed_at).toBeGreaterThanOrEqual(before);
    expect(meta._last_changed_at).toBeLessThanOrEqual(after);

    const delta = await deltaRowsOf(db.sql, 'work_orders', id);
    expect(delta).toHaveLength(1);
    expect(delta[0]).toMatchObject({ id, _version: 1, _deleted: false, _last_changed_at: meta._last_changed_at });
    expect(delta[0]!.item).toMatchObject({ id, site_id: siteId, title: 'Replace pump seal', status: 'OPEN', _version: 1 });
  });

  test('ignores metadata a writer tries to set', async () => {
    const [row] = await db.sql<{ id: string }[]>`
      insert into work_orders (site_id, title, _version, _last_changed_at, _ttl)
      values (${siteId}, 'Forged', 42, 1, now()) returning id`;
    const meta = await metadataOf(db.sql, 'work_orders', row!.id);
    expect(meta._version).toBe(1);
    expect(meta._last_changed_at).toBeGreaterThan(1);
    expect(meta._ttl).toBeNull();
  });

  test('sets createdAt and updatedAt, which Amplify models select in every query', async () => {
    const id = await insertWorkOrder(db.sql, siteId);
    const [row] = await db.sql<{ created_at: Date; updated_at: Date }[]>`select created_at, updated_at from work_orders where id = ${id}`;
    expect(row!.created_at).toBeInstanceOf(Date);
    expect(row!.updated_at.getTime()).toBe(row!.created_at.getTime());
  });
});

describe('update', () => {
  test('bumps the version by one per update, restamps and journals every version', async () => {
    const id = await insertWorkOrder(db.sql, siteId);
    const first = await metadataOf(db.sql, 'work_orders', id);

    await db.sql`update work_orders set status = 'IN_PROGRESS' where id = ${id}`;
    await db.sql`update work_orders set notes = 'seal ordered', _version = 100 where id = ${id}`;

    const meta = await metadataOf(db.sql, 'work_orders', id);
    expect(meta._version).toBe(3);
    expect(meta._last_changed_at).toBeGreaterThanOrEqual(first._last_changed_at);
    const delta = await deltaRowsOf(db.sql, 'work_orders', id);
    expect(delta.map((d) => d._version)).toEqual([1, 2, 3]);
    expect(delta.map((d) => d.item.status)).toEqual(['OPEN', 'IN_PROGRESS', 'IN_PROGRESS']);
    expect(delta[2]!.item.notes).toBe('seal ordered');
  });

  test('updates updatedAt but keeps createdAt', async () => {
    const id = await insertWorkOrder(db.sql, siteId);
    const [inserted] = await db.sql<{ created_at: string }[]>`select created_at::text from work_orders where id = ${id}`;
    await db.sql`update work_orders set notes = 'later' where id = ${id}`; // a later transaction
    // Compared in SQL: timestamps are in microseconds, JavaScript dates only in milliseconds.
    const [row] = await db.sql<{ created_at: string; updated_later: boolean }[]>`
      select created_at::text, updated_at > created_at as updated_later from work_orders where id = ${id}`;
    expect(row).toEqual({ created_at: inserted!.created_at, updated_later: true });
  });

  test('a row stamp never goes backwards, even when an older transaction writes last', async () => {
    // 1. transaction A starts (its now() is fixed from here)  2. B updates the row and commits
    // 3. A updates the same row: its stamp must not fall behind B's.
    const id = await insertWorkOrder(db.sql, siteId);
    const a = await db.connect(1).reserve();
    try {
      await a`begin`;
      await a`select now()`;
      await new Promise((done) => setTimeout(done, 5));
      await db.sql`update work_orders set notes = 'B' where id = ${id}`;
      const afterB = await metadataOf(db.sql, 'work_orders', id);
      await a`update work_orders set notes = 'A' where id = ${id}`;
      await a`commit`;
      const afterA = await metadataOf(db.sql, 'work_orders', id);
      expect(afterA._version).toBe(afterB._version + 1);
      expect(afterA._last_changed_at).toBeGreaterThanOrEqual(afterB._last_changed_at);
    } finally {
      a.release();
    }
  });

  test('refuses to change the DataStore id, which devices know the row by', async () => {
    const id = await insertWorkOrder(db.sql, siteId);
    await expect(db.sql`update work_orders set id = gen_random_uuid() where id = ${id}`).rejects.toMatchObject({ code: '23514' });
    expect((await metadataOf(db.sql, 'work_orders', id))._version).toBe(1);
  });
});

describe('delete', () => {
  test('a soft delete sets the tombstone TTL (BaseTableTTL, 30 days) and journals the tombstone', async () => {
    const id = await insertWorkOrder(db.sql, siteId);
    const before = await dbNowMs(db.sql);
    await db.sql`update work_orders set _deleted = true where id = ${id}`;
    const after = await dbNowMs(db.sql);

    const meta = await metadataOf(db.sql, 'work_orders', id);
    expect(meta._version).toBe(2);
    expect(meta._ttl!.getTime()).toBeGreaterThanOrEqual(before + 30 * DAY_MS);
    expect(meta._ttl!.getTime()).toBeLessThanOrEqual(after + 30 * DAY_MS);
    const [, tombstone] = await deltaRowsOf(db.sql, 'work_orders', id);
    expect(tombstone).toMatchObject({ _version: 2, _deleted: true, _last_changed_at: meta._last_changed_at });
  });

  test('a hard DELETE by another writer leaves a tombstone that devices will sync', async () => {
    const id = await insertWorkOrder(db.sql, siteId);

    const result = await db.sql`delete from work_orders where id = ${id}`;

    expect(result.count).toBe(0); // the row was not removed: it became a tombstone
    const meta = await metadataOf(db.sql, 'work_orders', id);
    expect(meta).toMatchObject({ _version: 2, _deleted: true });
    expect(meta._ttl).not.toBeNull();
    const delta = await deltaRowsOf(db.sql, 'work_orders', id);
    expect(delta.map((d) => [d._version, d._deleted])).toEqual([[1, false], [2, true]]);
  });

  test('deleting a tombstone again changes nothing until it expires', async () => {
    const id = await insertWorkOrder(db.sql, siteId);
    await db.sql`delete from work_orders where id = ${id}`;
    const tombstone = await metadataOf(db.sql, 'work_orders', id);

    await db.sql`delete from work_orders where id = ${id}`;

    expect(await metadataOf(db.sql, 'work_orders', id)).toEqual(tombstone);
    expect(await deltaRowsOf(db.sql, 'work_orders', id)).toHaveLength(2);
  });

  test('editing a tombstone does not extend its life; undeleting clears the TTL', async () => {
    const id = await insertWorkOrder(db.sql, siteId);
    await db.sql`update work_orders set _deleted = true where id = ${id}`;
    const tombstone = await metadataOf(db.sql, 'work_orders', id);

    await db.sql`update work_orders set notes = 'late edit' where id = ${id}`;
    expect((await metadataOf(db.sql, 'work_orders', id))._ttl).toEqual(tombstone._ttl);

    await db.sql`update work_orders set _deleted = false where id = ${id}`;
    expect(await metadataOf(db.sql, 'work_orders', id)).toMatchObject({ _version: 4, _deleted: false, _ttl: null });
  });

  test('TRUNCATE is refused: it cannot leave tombstones', async () => {
    await expect(db.sql`truncate work_logs`).rejects.toMatchObject({ code: '0A000' });
  });
});

describe('per-model TTLs', () => {
  test('come from versioning.models and take effect on the next write', async () => {
    // (A journal row's expiry is its change time plus the DeltaSyncTableTTL at purge time: purge.test.ts.)
    await db.sql`select versioning.enable('work_logs', base_table_ttl => '2 days', delta_sync_table_ttl => '5 minutes')`;
    const workOrderId = await insertWorkOrder(db.sql, siteId);
    const [log] = await db.sql<{ id: string }[]>`insert into work_logs (work_order_id, minutes) values (${workOrderId}, 30) returning id`;
    const before = await dbNowMs(db.sql);
    await db.sql`update work_logs set _deleted = true where id = ${log!.id}`;

    const meta = await metadataOf(db.sql, 'work_logs', log!.id);
    expect(meta._ttl!.getTime() - before).toBeGreaterThanOrEqual(2 * DAY_MS);
    expect(meta._ttl!.getTime() - before).toBeLessThan(2 * DAY_MS + MINUTE_MS);
    const ttl = (await db.sql<{ ttl: string }[]>`select delta_sync_table_ttl::text as ttl from versioning.models where base_table = 'work_logs'::regclass`)[0]!.ttl;
    expect(ttl).toBe('00:05:00');
  });

  test('an UPDATE of versioning.models is enough: the next write uses the new TTL', async () => {
    await db.sql`update versioning.models set base_table_ttl = '3 days' where base_table = 'work_logs'::regclass`;
    const workOrderId = await insertWorkOrder(db.sql, siteId);
    const [log] = await db.sql<{ id: string }[]>`insert into work_logs (work_order_id, minutes) values (${workOrderId}, 30) returning id`;
    const before = await dbNowMs(db.sql);
    await db.sql`delete from work_logs where id = ${log!.id}`;

    const meta = await metadataOf(db.sql, 'work_logs', log!.id);
    expect(meta._ttl!.getTime() - before).toBeGreaterThanOrEqual(3 * DAY_MS);
    expect(meta._ttl!.getTime() - before).toBeLessThan(3 * DAY_MS + MINUTE_MS);
  });

  test('must be positive', async () => {
    await expect(db.sql`select versioning.enable('work_logs', base_table_ttl => '0 seconds')`).rejects.toMatchObject({ code: '23514' });
  });
});

describe('the legacy table with an integer key', () => {
  test('syncs under a generated _datastore_uuid and leaves its own key alone', async () => {
    const [part] = await db.sql<{ part_no: number; _datastore_uuid: string }[]>`
      insert into parts (sku, description) values ('IMP-100', 'Impeller') returning part_no, _datastore_uuid`;
    expect(part!._datastore_uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    await db.sql`update parts set quantity_on_hand = 12 where part_no = ${part!.part_no}`;

    const delta = await deltaRowsOf(db.sql, 'parts', part!._datastore_uuid);
    expect(delta.map((d) => d._version)).toEqual([1, 2]);
    expect(delta[1]!.item).toMatchObject({ part_no: part!.part_no, quantity_on_hand: 12 });
  });
});

describe('versioning.enable', () => {
  test('versions an existing table with rows, and running it twice is harmless', async () => {
    // 1. an ERP table with rows and an integer key  2. enable it (twice)  3. ERP SQL keeps working
    await db.sql`create table erp_vehicles (vehicle_no serial primary key, plate text not null)`;
    await db.sql`insert into erp_vehicles (plate) values ('AB-123'), ('CD-456')`;
    const enabledAt = await dbNowMs(db.sql);

    await db.sql`select versioning.enable('erp_vehicles', id_column => '_datastore_uuid')`;
    await db.sql`select versioning.enable('erp_vehicles', id_column => '_datastore_uuid')`;

    const rows = await db.sql<{ _datastore_uuid: string; _version: number; _deleted: boolean; _last_changed_at: number }[]>`
      select _datastore_uuid, _version::int, _deleted, _last_changed_at::float8 as _last_changed_at from erp_vehicles order by vehicle_no`;
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((r) => r._datastore_uuid)).size).toBe(2);
    for (const row of rows) {
      expect(row).toMatchObject({ _version: 1, _deleted: false });
      expect(row._last_changed_at).toBeGreaterThanOrEqual(enabledAt);
    }
    const [triggers] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_trigger where tgrelid = 'erp_vehicles'::regclass and not tgisinternal`;
    expect(triggers!.n).toBe(4); // stamp, journal, hard delete, truncate

    await db.sql`update erp_vehicles set plate = 'AB-124' where vehicle_no = 1`;
    expect(await deltaRowsOf(db.sql, 'erp_vehicles', rows[0]!._datastore_uuid)).toEqual([
      expect.objectContaining({ _version: 2, item: expect.objectContaining({ plate: 'AB-124', vehicle_no: 1 }) }),
    ]);
  });

  test('uses an existing text id column and makes it unique', async () => {
    await db.sql`create table tickets (id text, subject text)`;
    await db.sql`select versioning.enable('tickets', timestamps => false)`;
    await db.sql`insert into tickets (id, subject) values ('t-1', 'first')`;
    await expect(db.sql`insert into tickets (id, subject) values ('t-1', 'again')`).rejects.toMatchObject({ code: '23505' });
    await expect(db.sql`insert into tickets (subject) values ('no id')`).rejects.toMatchObject({ code: '23502' });
    const [columns] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_attribute where attrelid = 'tickets'::regclass and attname in ('created_at', 'updated_at')`;
    expect(columns!.n).toBe(0);
  });

  test('another writer needs rights on its table only, not on the versioning schemas', async () => {
    // An ERP's login: it may write work_logs and nothing else, yet its writes are stamped and journaled.
    const role = db.sql(`erp_writer_${process.pid}`); // roles are cluster-wide
    await db.sql`create role ${role}`;
    await db.sql`grant usage on schema public to ${role}`;
    await db.sql`grant select, insert, update, delete on work_logs to ${role}`;
    await db.sql`grant select on work_orders to ${role}`; // the foreign key's check reads it
    const workOrderId = await insertWorkOrder(db.sql, siteId);
    try {
      const id = await db.sql.begin(async (tx) => {
        await tx`set local role ${role}`;
        const [log] = await tx<{ id: string }[]>`insert into work_logs (work_order_id, minutes) values (${workOrderId}, 15) returning id`;
        await tx`update work_logs set minutes = 20 where id = ${log!.id}`;
        await tx`delete from work_logs where id = ${log!.id}`;
        return log!.id;
      });
      const delta = await deltaRowsOf(db.sql, 'work_logs', id);
      expect(delta.map((d) => [d._version, d._deleted, d.item.minutes])).toEqual([[1, false, 15], [2, false, 20], [3, true, 20]]);
    } finally {
      await db.sql`drop owned by ${role}`;
      await db.sql`drop role ${role}`;
    }
  });

  test('turning timestamps off later stops stamping them', async () => {
    await db.sql`create table notes (id uuid primary key default gen_random_uuid(), body text)`;
    await db.sql`select versioning.enable('notes')`;
    const [note] = await db.sql<{ id: string; updated_at: Date }[]>`insert into notes (body) values ('a') returning id, updated_at`;
    await db.sql`select versioning.enable('notes', timestamps => false)`;
    await db.sql`update notes set body = 'b', updated_at = '2001-01-01T00:00:00Z' where id = ${note!.id}`;
    const [after] = await db.sql<{ updated_at: Date; _version: string }[]>`select updated_at, _version from notes where id = ${note!.id}`;
    expect(after!.updated_at.toISOString()).toBe('2001-01-01T00:00:00.000Z');
    expect(Number(after!._version)).toBe(2);
  });

  test('running it again to change a TTL keeps the id column and the timestamps choice it was given', async () => {
    await db.sql`select versioning.enable('parts', base_table_ttl => '7 days')`;

    const [model] = await db.sql<{ id_column: string; ttl: string }[]>`
      select id_column, base_table_ttl::text as ttl from versioning.models where base_table = 'parts'::regclass`;
    expect(model).toEqual({ id_column: '_datastore_uuid', ttl: '7 days' });
    expect(await db.sql`select from pg_attribute where attrelid = 'parts'::regclass and attname = 'id'`).toHaveLength(0);

    await db.sql`create table gauges_later (id uuid primary key, reading numeric)`;
    await db.sql`select versioning.enable('gauges_later', timestamps => false)`;
    await db.sql`select versioning.enable('gauges_later', delta_sync_table_ttl => '1 hour')`;
    expect(await db.sql`select from pg_attribute where attrelid = 'gauges_later'::regclass and attname = 'created_at'`).toHaveLength(0);
  });

  test('an UPDATE of the registry that does not fit the table is refused and changes nothing', async () => {
    await db.sql`create table meters (id uuid primary key, reading numeric)`;
    await db.sql`select versioning.enable('meters', timestamps => false)`;

    await expect(db.sql`update versioning.models set timestamps = true where base_table = 'meters'::regclass`).rejects.toMatchObject({ code: '42804' });
    await expect(db.sql`update versioning.models set id_column = 'reading' where base_table = 'meters'::regclass`).rejects.toMatchObject({ code: '42804' });

    const [meter] = await db.sql<{ id: string }[]>`insert into meters (id, reading) values (gen_random_uuid(), 1) returning id`;
    expect(await deltaRowsOf(db.sql, 'meters', meter!.id)).toHaveLength(1);
  });

  test('a TTL change replaces the trigger functions but leaves the triggers (and the table) alone', async () => {
    const triggers = () => db.sql`select tgname, xmin::text as version from pg_trigger where tgrelid = 'work_logs'::regclass and not tgisinternal order by tgname`;
    const before = await triggers();
    await db.sql`update versioning.models set base_table_ttl = '9 days' where base_table = 'work_logs'::regclass`;
    expect(await triggers()).toEqual(before);
    const [source] = await db.sql<{ src: string }[]>`select prosrc as src from pg_proc where proname = 'work_logs_stamp'`;
    expect(source!.src).toContain("'9 days'::interval");
  });

  test('a column name that would end a quoted function body is still just a name', async () => {
    await db.sql`create table odd_keys (${db.sql('k$body$x')} text primary key, note text)`;
    await db.sql`select versioning.enable('odd_keys', id_column => 'k$body$x', timestamps => false)`;
    await db.sql`insert into odd_keys values ('a', 'first')`;
    expect(await deltaRowsOf(db.sql, 'odd_keys', 'a')).toEqual([expect.objectContaining({ id: 'a', _version: 1 })]);
  });

  test('refuses a table name too long for its generated trigger functions', async () => {
    const name = `t${'x'.repeat(55)}`;
    await db.sql`create table ${db.sql(name)} (id uuid primary key)`;
    await expect(db.sql`select versioning.enable(${name})`).rejects.toMatchObject({ code: '42622' });
    const [registered] = await db.sql<{ n: number }[]>`select count(*)::int as n from versioning.models where base_table = ${name}::regclass`;
    expect(registered!.n).toBe(0);
  });

  test('refuses what it cannot version, changing nothing', async () => {
    await db.sql`create view open_orders as select * from work_orders where status = 'OPEN'`;
    await expect(db.sql`select versioning.enable('open_orders')`).rejects.toMatchObject({ code: '42809' });

    await db.sql`create table gauges (id integer primary key, reading numeric)`;
    await expect(db.sql`select versioning.enable('gauges')`).rejects.toMatchObject({ code: '42804' });
    await db.sql`create table counters (id uuid primary key, _version integer)`;
    await expect(db.sql`select versioning.enable('counters')`).rejects.toMatchObject({ code: '42804' });

    const [added] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_attribute where attrelid in ('gauges'::regclass, 'counters'::regclass) and attname in ('_deleted', '_ttl')`;
    expect(added!.n).toBe(0);
    const [registered] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from versioning.models where base_table in ('gauges'::regclass, 'counters'::regclass)`;
    expect(registered!.n).toBe(0);
  });
});
