// The late-commit trap (design.md §4): a transaction stamps a row at its start, a sync runs while it is
// still open, and the transaction commits afterwards. A cursor of "now" would put the row behind the
// device's lastSync for good. The watermark must keep it ahead.
import { models } from '@datastore-pg/schema/models';
import { apiKey, ok, syncAll } from './appsync';
import { useHandlerDatabase } from './database';
import { handlers } from './handlers';
import { sampleInput } from './fixtures';

const db = useHandlerDatabase();
const model = models.Customer;
const handler = handlers.Customer!;

test('a change committed after a sync began still reaches the device on its next sync', async () => {
  await ok(handler, 'createCustomer', { input: await sampleInput(model) }, apiKey);
  const { startedAt: lastSync } = await syncAll(handler, model, { lastSync: 0 }, apiKey);
  const writer = await db.connect(1).reserve();
  try {
    // 1. An ERP transaction starts and inserts a customer: stamped with its start time, not yet visible.
    await writer`begin`;
    const [row] = await writer<{ id: string; stamp: number }[]>`
      insert into customers (name) values ('Late Commit Ltd') returning id, _last_changed_at as stamp`;
    await new Promise((done) => setTimeout(done, 20));

    // 2. The device syncs meanwhile: the row is invisible, and startedAt must stay below its stamp.
    const during = await syncAll(handler, model, { lastSync }, apiKey);
    expect(during.items.some((i) => i.id === row!.id)).toBe(false);
    expect(during.startedAt).toBeLessThan(row!.stamp);

    // 3. The ERP commits; 4. the device's next sync, from the startedAt it stored, returns the row.
    await writer`commit`;
    const after = await syncAll(handler, model, { lastSync: during.startedAt }, apiKey);
    expect(after.items).toContainEqual(expect.objectContaining({ id: row!.id, name: 'Late Commit Ltd', _version: 1 }));
  } finally {
    writer.release();
  }
});

test('the window of a sync stays fixed across its pages while other writes commit', async () => {
  // 1. five customers  2. a device pages through a delta sync one item at a time  3. between its
  // pages, new customers are committed: they belong to the next sync, not this one, and are not lost.
  const { startedAt: lastSync } = await syncAll(handler, model, { lastSync: 0 }, apiKey);
  const first = [];
  for (let i = 0; i < 5; i++) first.push((await ok<{ id: string }>(handler, 'createCustomer', { input: await sampleInput(model) }, apiKey)).id);
  // The watermark sits a millisecond below "now": a change made in the very last millisecond before a
  // sync belongs to the next window. Give the five a few milliseconds so they are all in this one.
  await new Promise((done) => setTimeout(done, 10));

  const seen: string[] = [];
  const late: string[] = [];
  let nextToken: string | null = null;
  let startedAt = 0;
  do {
    const page: { items: { id: string }[]; nextToken: string | null; startedAt: number } = await ok(handler, 'syncCustomers', { lastSync, limit: 1, nextToken, filter: null }, apiKey);
    seen.push(...page.items.map((i) => i.id));
    startedAt = page.startedAt;
    nextToken = page.nextToken;
    late.push((await ok<{ id: string }>(handler, 'createCustomer', { input: await sampleInput(model) }, apiKey)).id);
  } while (nextToken !== null);

  expect(seen).toEqual(first);
  const next = await syncAll(handler, model, { lastSync: startedAt }, apiKey);
  expect(next.items.map((i) => i.id)).toEqual(expect.arrayContaining(late));
});
