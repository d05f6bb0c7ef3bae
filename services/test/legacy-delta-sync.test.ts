// The AppSync SDK's Delta Sync (packages/versioning/src/legacy.ts): list<Plural> and
// list<Plural>Delta(lastSync in seconds) through the real handlers, under the same owner rule as
// DataStore's sync, deletions marked aws_ds: DELETE, and no change lost to a late commit although the
// SDK picks its lastSync from its own clock.
import { models } from '@datastore-pg/schema/models';
import { dispatcher, invoke, ok, user } from './appsync';
import { useHandlerDatabase } from './database';
import { createItem } from './fixtures';
import { handlers } from './handlers';

const db = useHandlerDatabase();
const techA = user('tech-a');
const techB = user('tech-b');
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
type Item = Record<string, unknown> & { id: string };

/** The SDK's lastSync after a query: its own clock, 2 s back, in seconds (aws-appsync deltaSync.js). */
const sdkLastSync = () => Math.floor((Date.now() - 2000) / 1000);

test('the base query lists the caller\'s live items; the delta query brings changes by any writer, deletions marked', async () => {
  const site = await createItem(models.Site, dispatcher);
  const mine = await createItem(models.WorkOrder, techA, { siteID: site.id, title: 'mine' });
  const deleted = await createItem(models.WorkOrder, techA, { siteID: site.id, title: 'deleted before' });
  await ok(handlers.WorkOrder!, 'deleteWorkOrder', { input: { id: deleted.id, _version: deleted._version } }, techA);
  const theirs = await createItem(models.WorkOrder, techB, { siteID: site.id, title: 'theirs' });

  const base = await ok<Item[]>(handlers.WorkOrder!, 'listWorkOrders', {}, techA);
  const lastSync = sdkLastSync();

  expect(base.map((i) => i.id)).toContain(mine.id);
  expect(base.map((i) => i.id)).not.toContain(deleted.id);
  expect(base.map((i) => i.id)).not.toContain(theirs.id);
  expect(base.find((i) => i.id === mine.id)).toMatchObject({ title: 'mine', aws_ds: null, _deleted: false });

  await sleep(2100); // past the SDK's lastSync
  await db.sql`update work_orders set title = 'changed by the ERP' where id = ${mine.id as string}`;
  await db.sql`delete from work_orders where id = ${mine.id as string}`;
  const added = (await db.sql<{ id: string }[]>`
    insert into work_orders (site_id, title, owner) values (${site.id as string}, 'assigned by the ERP', 'tech-a') returning id`)[0]!.id;
  await db.sql`update work_orders set title = 'changed too' where id = ${theirs.id as string}`;

  const delta = await ok<Item[]>(handlers.WorkOrder!, 'listWorkOrdersDelta', { lastSync }, techA);

  expect(delta.find((i) => i.id === mine.id)).toMatchObject({ aws_ds: 'DELETE', _deleted: true, title: 'changed by the ERP' });
  expect(delta.find((i) => i.id === added)).toMatchObject({ aws_ds: null, title: 'assigned by the ERP' });
  expect(delta.map((i) => i.id)).not.toContain(theirs.id);
});

test('a change whose transaction was open across the previous query still reaches the device', async () => {
  // 1. the watermark as it was a minute before (what migration 000014 samples)  2. the ERP changes an
  // order in a transaction it keeps open  3. more than 3 s later the device runs its query, which cannot
  // see the change, and takes now - 2 s (in whole seconds) as its next lastSync  4. the transaction commits: the change is
  // stamped before that lastSync  5. the next delta query still returns it.
  const [row] = await db.sql<{ id: string }[]>`insert into customers (name) values ('Before the long transaction') returning id`;
  const id = row!.id;
  const [{ watermark }] = (await db.sql`select versioning.sync_watermark() as watermark`) as unknown as [{ watermark: number }];
  await db.sql`insert into versioning.watermark_samples (at_ms, watermark) values (${Date.now() - 70_000}, ${watermark}) on conflict (at_ms) do nothing`;
  const erp = await db.sql.reserve();
  try {
    await erp`begin`;
    await erp`update customers set name = 'Committed late' where id = ${id}`;
    // Longer than the SDK's 2 s and the second its lastSync is floored to: the change then lies before it.
    await sleep(3300);
    const seen = await ok<Item[]>(handlers.Customer!, 'listCustomersDelta', { lastSync: Math.floor(watermark / 1000) }, techA);
    const lastSync = sdkLastSync();
    expect(seen.find((i) => i.id === id)?.name).not.toBe('Committed late');
    await erp`commit`;
    const [{ stamp }] = (await db.sql`select _last_changed_at::float8 as stamp from customers where id = ${id}`) as unknown as [{ stamp: number }];
    expect(stamp).toBeLessThan(lastSync * 1000); // a delta query from lastSync alone would skip it

    const delta = await ok<Item[]>(handlers.Customer!, 'listCustomersDelta', { lastSync }, techA);

    expect(delta.find((i) => i.id === id)).toMatchObject({ name: 'Committed late', aws_ds: null });
  } finally {
    erp.release();
  }
});

test('more items than one answer can carry is a clear error, not a cut list', async () => {
  await db.sql`insert into customers (name) select 'Bulk ' || g from generate_series(1, 10001) g`;

  const result = await invoke(handlers.Customer!, 'listCustomers', {}, techA);

  expect(result).toMatchObject({ errorType: 'ResultTooLarge', errorMessage: expect.stringContaining('syncCustomers') });
});

test('the base query counts only live items: deleted ones, in the table or the graveyard, neither fill its answer nor its limit', async () => {
  await db.sql`update versioning.models set base_table_ttl = '1 millisecond' where base_table = 'assets'::regclass`;
  try {
    const site = await createItem(models.Site, dispatcher);
    const live = await createItem(models.Asset, dispatcher, { siteID: site.id, name: 'still here' });
    await db.sql`insert into assets (site_id, name) select ${site.id as string}::uuid, 'scrapped ' || g from generate_series(1, 10001) g`;
    await db.sql`delete from assets where name like 'scrapped %'`;
    await sleep(5);
    await db.sql`select versioning.purge_tombstones('assets', 6000)`; // about half to the graveyard, half still tombstones

    const base = await ok<Item[]>(handlers.Asset!, 'listAssets', {}, dispatcher);

    expect(base.map((i) => i.id)).toContain(live.id);
    expect(base.every((i) => i._deleted === false && i.aws_ds === null)).toBe(true);
  } finally {
    await db.sql`update versioning.models set base_table_ttl = '30 days' where base_table = 'assets'::regclass`;
  }
});

test('a lastSync that is not a timestamp in seconds is refused', async () => {
  for (const lastSync of [-1, 1.5, 'yesterday', Number.MAX_SAFE_INTEGER]) {
    expect(await invoke(handlers.Customer!, 'listCustomersDelta', { lastSync }, techA)).toMatchObject({ errorType: 'ValidationError' });
  }
});
