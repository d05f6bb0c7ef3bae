// The forwarder against a real PostgreSQL: changes by plain SQL reach the publisher (inserts, updates,
// hard deletes as tombstones), a burst is one message per item, a transaction that commits late is
// delayed but not lost, a forwarder that dies mid-window republishes it and skips nothing, and one
// forwarder per database runs at a time.
import { connect, type Sql } from '@datastore-pg/db';
import { models, type ModelMeta } from '@datastore-pg/schema/models';
import { useTestDatabase } from '@datastore-pg/testing';
import type { Item } from '@datastore-pg/versioning';
import { Forwarder, graphqlPublisher, LockLostError, PublishError, type GraphQLTransport, type Publisher } from '../src';

const db = useTestDatabase();
let sql: Sql;
beforeAll(() => {
  sql = connect(db.url, { max: 4 });
});
afterAll(() => sql.end());

/** Collects what is published, as a subscriber would receive it. */
function collector(): Publisher & { items: { model: string; item: Item }[]; failAfter?: number } {
  const published: { model: string; item: Item }[] = [];
  const publisher = {
    items: published,
    failAfter: undefined as number | undefined,
    async publish(model: ModelMeta, items: readonly Item[]) {
      for (const item of items) {
        if (publisher.failAfter !== undefined && published.length >= publisher.failAfter) throw new Error('connection to AppSync lost');
        published.push({ model: model.name, item });
      }
    },
  };
  return publisher;
}

// Stamps are milliseconds and the watermark sits 1 ms below the oldest open transaction: a write gets
// a moment before the pass that must see it.
const settle = () => new Promise((done) => setTimeout(done, 5));

async function forwarderWith(publisher: Publisher, chosen: ModelMeta[] = [models.Customer, models.WorkOrder]) {
  const forwarder = new Forwarder({ connection: () => sql, models: chosen, publisher, pageSize: 3 });
  await forwarder.pass(); // a first pass starts from now
  return forwarder;
}

test('inserts, updates and hard deletes by plain SQL are published, the latest version of each item once', async () => {
  // 1. a forwarder starts (from now)  2. SQL inserts two customers, updates one four times, hard-deletes
  // the other  3. one pass: two messages, each item at its last version, the delete as a tombstone.
  const publisher = collector();
  const forwarder = await forwarderWith(publisher);
  const [kept] = await sql<{ id: string }[]>`insert into customers (name) values ('Kept') returning id`;
  const [gone] = await sql<{ id: string }[]>`insert into customers (name) values ('Gone') returning id`;
  for (let i = 1; i <= 4; i++) await sql`update customers set name = ${`Kept ${i}`} where id = ${kept!.id}`;
  await sql`delete from customers where id = ${gone!.id}`;
  await settle();

  const report = await forwarder.pass();

  expect(report.published.Customer).toBe(2);
  expect(publisher.items.map(({ item }) => [item.id, item.name, item._version, item._deleted]).sort()).toEqual([
    [gone!.id, 'Gone', 2, true],
    [kept!.id, 'Kept 4', 5, false],
  ].sort());
  expect(await forwarder.pass()).toEqual({ published: { Customer: 0, WorkOrder: 0 }, failed: {} }); // nothing twice
});

test('items carry what subscribers filter on and DataStore selects: owner, belongsTo as { id, _deleted }, metadata', async () => {
  const publisher = collector();
  const forwarder = await forwarderWith(publisher);
  const [customer] = await sql<{ id: string }[]>`insert into customers (name) values ('Owner Co') returning id`;
  const [site] = await sql<{ id: string }[]>`insert into sites (customer_id, name) values (${customer!.id}, 'Plant') returning id`;
  const [order] = await sql<{ id: string }[]>`insert into work_orders (site_id, title, owner) values (${site!.id}, 'Fix pump', 'tech-1') returning id`;
  await settle();

  await forwarder.pass();

  expect(publisher.items.find(({ item }) => item.id === order!.id)).toEqual({
    model: 'WorkOrder',
    item: expect.objectContaining({ owner: 'tech-1', siteID: site!.id, site: { id: site!.id, _deleted: false }, _version: 1, _deleted: false, _lastChangedAt: expect.any(Number) }),
  });
});

test('a transaction that commits late is published later, never skipped', async () => {
  // 1. a transaction updates a customer and stays open  2. other writes commit, a pass publishes them
  // but the window ends below the open transaction  3. it commits  4. the next pass publishes it.
  const publisher = collector();
  const forwarder = await forwarderWith(publisher);
  const [late] = await sql<{ id: string }[]>`insert into customers (name) values ('Late') returning id`;
  await settle();
  await forwarder.pass();
  publisher.items.length = 0;
  const open = await sql.reserve();
  try {
    await open`begin`;
    await open`update customers set name = 'Late (committed late)' where id = ${late!.id}`;
    const [early] = await sql<{ id: string }[]>`insert into customers (name) values ('Early') returning id`;
    await settle();
    await forwarder.pass();
    // The open transaction holds the watermark back: not even the early insert, stamped after it began, is published yet.
    expect(publisher.items.map(({ item }) => item.id)).not.toContain(late!.id);
    expect(publisher.items.map(({ item }) => item.id)).not.toContain(early!.id);
    await open`commit`;
    await settle();

    await forwarder.pass();

    expect(publisher.items.map(({ item }) => [item.id, item.name])).toEqual(expect.arrayContaining([[late!.id, 'Late (committed late)'], [early!.id, 'Early']]));
  } finally {
    open.release();
  }
});

test('a forwarder that dies mid-window goes on from the page it was publishing, and nothing is missed', async () => {
  // 1. seven changes (pages of three)  2. the publisher fails on the fifth: the first page is out and its
  // cursor stored, the model reported failed  3. a new forwarder (a restarted process) publishes from the
  // failed page on (the fourth item again: at least once)  4. one more pass publishes nothing.
  const failing = collector();
  await forwarderWith(failing);
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) ids.push((await sql<{ id: string }[]>`insert into customers (name) values (${`Batch ${i}`}) returning id`)[0]!.id);
  await settle();
  failing.failAfter = 4;
  const report = await new Forwarder({ connection: () => sql, models: [models.Customer], publisher: failing, pageSize: 3 }).pass();
  expect(report).toEqual({ published: {}, failed: { Customer: new Error('connection to AppSync lost') } });
  expect(failing.items).toHaveLength(4);

  const restarted = collector();
  const forwarder = new Forwarder({ connection: () => sql, models: [models.Customer], publisher: restarted, pageSize: 3 });
  await forwarder.pass();

  expect(restarted.items[0]!.item.id).toBe(failing.items[3]!.item.id); // the failed page, from its start
  expect(new Set([...failing.items, ...restarted.items].map(({ item }) => item.id))).toEqual(new Set(ids));
  expect(restarted.items).toHaveLength(4);
  expect((await forwarder.pass()).published.Customer).toBe(0);
});

test('a window larger than a run is published over several runs, each going on where the last stopped', async () => {
  const first = collector();
  await forwarderWith(first, [models.Customer]);
  const ids = (await sql<{ id: string }[]>`insert into customers (name) select 'Bulk ' || g from generate_series(1, 8) g returning id`).map((r) => r.id);
  await settle();

  let pages = 0;
  await new Forwarder({ connection: () => sql, models: [models.Customer], publisher: first, pageSize: 3 }).pass(() => ++pages >= 1);
  const second = collector();
  await new Forwarder({ connection: () => sql, models: [models.Customer], publisher: second, pageSize: 3 }).pass();

  expect(first.items).toHaveLength(3);
  expect(second.items).toHaveLength(5);
  expect([...first.items, ...second.items].map(({ item }) => item.id).sort()).toEqual([...ids].sort());
});

test('a forwarder whose position moved under it (another one publishing) stops instead of moving it back', async () => {
  const chosen = [models.Customer];
  await forwarderWith(collector(), chosen);
  await sql`insert into customers (name) values ('Contested')`;
  await settle();
  const other = new Forwarder({ connection: () => sql, models: chosen, publisher: collector() });
  const slow: Publisher = {
    async publish() {
      await other.pass(); // another forwarder publishes the same window and moves the position meanwhile
    },
  };

  await expect(new Forwarder({ connection: () => sql, models: chosen, publisher: slow }).pass()).rejects.toThrow(LockLostError);
});

test('for one item, a version is never published after a newer one', async () => {
  const publisher = collector();
  const forwarder = await forwarderWith(publisher);
  const [customer] = await sql<{ id: string }[]>`insert into customers (name) values ('v1') returning id`;
  for (let v = 2; v <= 6; v++) {
    await sql`update customers set name = ${`v${v}`} where id = ${customer!.id}`;
    await settle();
    await forwarder.pass();
  }

  const versions = publisher.items.filter(({ item }) => item.id === customer!.id).map(({ item }) => item._version);
  expect(versions).toEqual([...versions].sort((a, b) => a - b));
  expect(versions.at(-1)).toBe(6);
});

test('one forwarder per database runs at a time', async () => {
  const lockConnection = () => connect(db.url, { max: 1 });
  const first = new Forwarder({ connection: () => sql, lockConnection, models: [models.Customer], publisher: collector() });
  let stop = false;
  const running = first.run({ intervalMs: 20, shouldStop: () => stop });
  await new Promise((done) => setTimeout(done, 100));

  const second = await new Forwarder({ connection: () => sql, lockConnection, models: [models.Customer], publisher: collector() }).run({ intervalMs: 20, shouldStop: () => false });

  expect(second).toBe(false);
  stop = true;
  expect(await running).toBe(true);
});

test('a forwarder whose lock connection dies stops rather than publish beside another', async () => {
  const running = new Forwarder({
    connection: () => sql,
    lockConnection: () => connect(db.url, { max: 1, applicationName: 'forwarder under test' }),
    models: [models.Customer],
    publisher: collector(),
  }).run({ intervalMs: 20, shouldStop: () => false });
  running.catch(() => undefined);
  await new Promise((done) => setTimeout(done, 100));

  const killed = await sql`select pg_terminate_backend(l.pid) from pg_locks l join pg_stat_activity a using (pid)
                            where l.locktype = 'advisory' and a.application_name = 'forwarder under test' and a.datname = current_database()`;

  expect(killed).toHaveLength(1);
  // Found by the check before a pass, or by the position write inside one: either way it stops.
  await expect(running).rejects.toThrow(LockLostError);
});

test('run() forwards with no callbacks given', async () => {
  // The pass must not hang on onPass being there (an optional call skips evaluating its argument).
  const publisher = collector();
  await forwarderWith(publisher, [models.Customer]);
  let stop = false;
  const running = new Forwarder({ connection: () => sql, lockConnection: () => connect(db.url, { max: 1 }), models: [models.Customer], publisher }).run({ intervalMs: 20, shouldStop: () => stop });
  const [customer] = await sql<{ id: string }[]>`insert into customers (name) values ('Forwarded by run') returning id`;

  for (let waited = 0; !publisher.items.some(({ item }) => item.id === customer!.id) && waited < 5000; waited += 20) await new Promise((done) => setTimeout(done, 20));
  stop = true;

  expect(await running).toBe(true);
  expect(publisher.items.map(({ item }) => item.id)).toContain(customer!.id);
});

test('a hand-over: the next forwarder waits for the lock, takes over when the last lets go, and misses nothing', async () => {
  const lockConnection = () => connect(db.url, { max: 1 });
  const [before, after] = [collector(), collector()];
  await forwarderWith(before, [models.Customer]);
  let stopFirst = false;
  const first = new Forwarder({ connection: () => sql, lockConnection, models: [models.Customer], publisher: before }).run({ intervalMs: 20, shouldStop: () => stopFirst });
  await new Promise((done) => setTimeout(done, 100));
  let stopSecond = false;
  const second = new Forwarder({ connection: () => sql, lockConnection, models: [models.Customer], publisher: after }).run({ intervalMs: 20, waitForLockMs: 5000, shouldStop: () => stopSecond });

  await sql`insert into customers (name) values ('Before the hand-over')`;
  await new Promise((done) => setTimeout(done, 200));
  stopFirst = true;
  expect(await first).toBe(true);
  await sql`insert into customers (name) values ('After the hand-over')`;
  for (let waited = 0; !after.items.some(({ item }) => item.name === 'After the hand-over') && waited < 5000; waited += 20) await new Promise((done) => setTimeout(done, 20));
  stopSecond = true;

  expect(await second).toBe(true);
  expect(before.items.map(({ item }) => item.name)).toContain('Before the hand-over');
  expect(after.items.map(({ item }) => item.name)).toContain('After the hand-over');
});

describe('publishing through GraphQL', () => {
  const items = Array.from({ length: 6 }, (_, i) => ({ id: `item-${i}`, name: `Item ${i}`, _version: 1, _deleted: false, _lastChangedAt: 1 }));

  test('after a failure no further item is sent, and the window fails only once nothing is in flight', async () => {
    const sent: string[] = [];
    const finished: string[] = [];
    const transport: GraphQLTransport = async ({ variables }) => {
      const { id } = JSON.parse(String(variables.item)) as { id: string };
      sent.push(id);
      if (id === 'item-1') throw new Error('socket hang up');
      await new Promise((done) => setTimeout(done, 30));
      finished.push(id);
      return { data: { publishCreateCustomer: { id } } };
    };

    await expect(graphqlPublisher(transport, { concurrency: 2, onErrors: () => undefined }).publish(models.Customer, items)).rejects.toThrow('socket hang up');

    expect(sent).toEqual(['item-0', 'item-1']);
    expect(finished).toEqual(['item-0']); // settled before the rejection
  });

  test('an item returned with errors in a field is reported and the rest go on; one not returned fails the window', async () => {
    const reported: unknown[] = [];
    const partial: GraphQLTransport = async ({ variables }) => {
      const { id } = JSON.parse(String(variables.item)) as { id: string };
      return id === 'item-2'
        ? { data: { publishCreateCustomer: { id, email: null } }, errors: [{ errorType: 'Lambda:Unhandled', message: 'Invalid AWSEmail value' }] }
        : { data: { publishCreateCustomer: { id } } };
    };
    await graphqlPublisher(partial, { onErrors: (e) => reported.push(e) }).publish(models.Customer, items);
    expect(reported).toEqual([{ model: 'Customer', id: 'item-2', version: 1, errors: 'Lambda:Unhandled: Invalid AWSEmail value' }]);

    const unauthorized: GraphQLTransport = async () => ({ data: { publishCreateCustomer: null }, errors: [{ errorType: 'Unauthorized', message: 'Not Authorized to access publishCreateCustomer on type Mutation' }] });
    await expect(graphqlPublisher(unauthorized, { onErrors: (e) => reported.push(e) }).publish(models.Customer, items)).rejects.toThrow(PublishError);
    expect(reported).toHaveLength(1);
  });
});

test('a running forwarder samples the sync watermark, for the Delta Sync SDK\'s delta queries', async () => {
  await sql`delete from versioning.watermark_samples`;
  let stop = false;
  const running = new Forwarder({ connection: () => sql, lockConnection: () => connect(db.url, { max: 1 }), models: [models.Customer], publisher: collector() }).run({ intervalMs: 20, shouldStop: () => stop });
  for (let waited = 0; (await sql`select from versioning.watermark_samples`).length === 0 && waited < 5000; waited += 20) await new Promise((done) => setTimeout(done, 20));
  stop = true;
  await running;

  const [sample] = await sql<{ at_ms: number; watermark: number }[]>`select at_ms::float8, watermark::float8 from versioning.watermark_samples`;
  expect(sample!.watermark).toBeGreaterThan(0);
  expect(Math.abs(sample!.at_ms - Date.now())).toBeLessThan(60_000);
});

test('an idle forwarder stores its position every few seconds, not on every pass', async () => {
  const forwarder = await forwarderWith(collector(), [models.Customer]);
  const stored = async () => (await sql<{ at: string }[]>`select updated_at::text as at from versioning.forwarder_positions where base_table = 'customers'::regclass`)[0]!.at;
  await sql`update versioning.forwarder_positions set updated_at = now() where base_table = 'customers'::regclass`;
  const before = await stored();

  await settle();
  await forwarder.pass();
  expect(await stored()).toBe(before);

  await sql`update versioning.forwarder_positions set updated_at = now() - interval '6 seconds' where base_table = 'customers'::regclass`;
  const stale = await stored();
  await forwarder.pass();
  expect(await stored()).not.toBe(stale);
});
