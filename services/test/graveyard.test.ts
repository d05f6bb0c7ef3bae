// The graveyard (migrations/000013_graveyard.sql): once purge has removed a tombstone from its table,
// full and base syncs still send the deletion, so a device that was away longer than the BaseTableTTL
// loses the row instead of keeping a ghost. Under the same owner rule as the table's rows, and never for
// an id that lives in the table again.
import { models } from '@datastore-pg/schema/models';
import { dispatcher, syncAll, user } from './appsync';
import { useHandlerDatabase } from './database';
import { createItem } from './fixtures';
import { handlers } from './handlers';

const db = useHandlerDatabase();
const techA = user('tech-a');
const techB = user('tech-b');
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

const setTtls = (base: string, delta: string) => db.sql`
  update versioning.models set base_table_ttl = ${base}::interval, delta_sync_table_ttl = ${delta}::interval
   where base_table = 'work_orders'::regclass`;

afterEach(() => setTtls('30 days', '30 minutes'));

/** Deletes work orders as the ERP would (plain SQL: the row becomes a tombstone), then lets purge move every tombstone to the graveyard. */
async function deleteAndPurge(ids: string[]): Promise<void> {
  await setTtls('1 millisecond', '30 minutes');
  await db.sql`delete from work_orders where id = any(${db.sql.array(ids)}::uuid[])`;
  await sleep(5);
  const [{ moved }] = (await db.sql`select versioning.purge_tombstones('work_orders', 1000) as moved`) as unknown as [{ moved: number }];
  expect(moved).toBeGreaterThanOrEqual(ids.length);
  expect(await db.sql`select from work_orders where id = any(${db.sql.array(ids)}::uuid[])`).toHaveLength(0);
  await setTtls('30 days', '30 minutes');
}

test('a full sync sends the purged deletions of the caller\'s rows after the table\'s rows, page by page, and no one else\'s', async () => {
  const site = await createItem(models.Site, dispatcher);
  const create = async (identity: typeof techA, title: string) =>
    (await createItem(models.WorkOrder, identity, { siteID: site.id, title })).id as string;
  const kept = [await create(techA, 'kept 1'), await create(techA, 'kept 2')];
  const gone = [await create(techA, 'gone 1'), await create(techA, 'gone 2'), await create(techA, 'gone 3')];
  const othersGone = await create(techB, 'tech-b gone');
  await deleteAndPurge([...gone, othersGone]);

  // Pages of 2: the table's two rows, then the graveyard's three entries over two pages.
  const { pages, items } = await syncAll(handlers.WorkOrder!, models.WorkOrder, { limit: 2 }, techA);

  const mine = items.filter((i) => [...kept, ...gone].includes(i.id as string));
  expect(mine.filter((i) => !i._deleted).map((i) => i.id).sort()).toEqual([...kept].sort());
  expect(mine.filter((i) => i._deleted).map((i) => i.id).sort()).toEqual([...gone].sort());
  // A tombstone is a whole, valid item: the required fields GraphQL asks for, the last version.
  for (const item of mine.filter((i) => i._deleted)) {
    expect(item).toMatchObject({ siteID: site.id, owner: 'tech-a', _version: 2, _deleted: true });
    expect(item.title).toMatch(/^gone /);
  }
  expect(items.map((i) => i.id)).not.toContain(othersGone);
  expect(pages.length).toBeGreaterThanOrEqual(3);
  // Every page of one sync carries the first page's startedAt (design.md §2), the graveyard's too.
  expect(new Set(pages.map((p) => p.startedAt)).size).toBe(1);

  const { items: dispatcherItems } = await syncAll(handlers.WorkOrder!, models.WorkOrder, {}, dispatcher);
  expect(dispatcherItems.filter((i) => i._deleted).map((i) => i.id)).toEqual(expect.arrayContaining([...gone, othersGone]));
});

test('a base sync sends only the purged deletions made after its lastSync', async () => {
  const site = await createItem(models.Site, dispatcher);
  const before = (await createItem(models.WorkOrder, techA, { siteID: site.id, title: 'deleted before' })).id as string;
  const after = (await createItem(models.WorkOrder, techA, { siteID: site.id, title: 'deleted after' })).id as string;
  // Deleted (with a TTL that lets purge take it) before the device's last sync, purged after it.
  await setTtls('1 millisecond', '30 minutes');
  await db.sql`delete from work_orders where id = ${before}`;
  await setTtls('30 days', '30 minutes');
  await sleep(5);
  const { startedAt: lastSync } = await syncAll(handlers.WorkOrder!, models.WorkOrder, {}, techA);
  await sleep(5);
  await deleteAndPurge([after]);
  expect(await db.sql`select from versioning_graveyard.work_orders where id = ${before}`).toHaveLength(1);
  // The device has been away longer than half the delta TTL: a base sync.
  await setTtls('30 days', '1 millisecond');
  await sleep(5);

  const { items } = await syncAll(handlers.WorkOrder!, models.WorkOrder, { lastSync }, techA);

  expect(items.filter((i) => i._deleted).map((i) => i.id)).toEqual([after]);
});

test('an id that lives in the table again is sent as the row, not as a deletion', async () => {
  const site = await createItem(models.Site, dispatcher);
  const id = (await createItem(models.WorkOrder, techA, { siteID: site.id, title: 'first life' })).id as string;
  await deleteAndPurge([id]);
  // The ERP inserts a row under the same id.
  await db.sql`insert into work_orders (id, site_id, title, owner) values (${id}, ${site.id as string}, 'second life', 'tech-a')`;

  const { items } = await syncAll(handlers.WorkOrder!, models.WorkOrder, {}, techA);

  expect(items.filter((i) => i.id === id)).toEqual([expect.objectContaining({ title: 'second life', _deleted: false })]);
});

test('a delta sync does not read the graveyard: its journal holds the deletion, sent once', async () => {
  const site = await createItem(models.Site, dispatcher);
  const { startedAt: lastSync } = await syncAll(handlers.WorkOrder!, models.WorkOrder, {}, techA);
  await sleep(5);
  const item = await createItem(models.WorkOrder, techA, { siteID: site.id, title: 'deleted and purged' });
  // Deleted and purged within the delta window: both the journal and the graveyard hold the deletion.
  await deleteAndPurge([item.id as string]);
  expect(await db.sql`select from versioning_graveyard.work_orders where id = ${item.id as string}`).toHaveLength(1);

  const { pages, items } = await syncAll(handlers.WorkOrder!, models.WorkOrder, { lastSync }, techA);

  expect(pages[0]!.items.length).toBeGreaterThan(0);
  expect(items.filter((i) => i.id === item.id)).toEqual([expect.objectContaining({ _deleted: true, _version: 2 })]);
});
