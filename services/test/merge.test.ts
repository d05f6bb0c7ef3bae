// The MERGE strategy on the example domain's own cases (issue "No edit lost"): edits of different fields,
// counters counted by several writers, lists, the same device's chained writes, replays, the
// FIRST_WRITE_WINS policy with a restore from the conflict log, and the base item a CUSTOM hook gets.
// The contract suite (contract.ts) covers the rest for every MERGE model.
import { connect, type Sql } from '@datastore-pg/db';
import { models, type ModelMeta } from '@datastore-pg/schema/models';
import { modelResolver, type ConflictContext } from '@datastore-pg/versioning';
import { apiKey, dispatcher, invoke, ok, user, type Identity } from './appsync';
import { useHandlerDatabase } from './database';
import { createItem, sampleInput } from './fixtures';
import { handlers } from './handlers';

const db = useHandlerDatabase();
type Item = Record<string, unknown> & { id: string; _version: number };
const techA = user('tech-a');
const techB = user('tech-b');

const update = (model: string, input: Record<string, unknown>, identity: Identity) =>
  ok<Item>(handlers[model]!, `update${model}`, { input, condition: null }, identity);
const conflictsOf = (id: string) => db.sql`
  select id, field, reason, kept, lost_value, kept_value, writer, server_writer from versioning.conflicts where item_id = ${id} order by id`;

test('a site\'s address edited offline and its latitude changed meanwhile: both edits stay', async () => {
  // 1. the technician's phone reads the site (v1) and goes offline  2. the back office moves the pin
  // (latitude, v2)  3. the phone reconnects with its address edit based on v1: merged, v3, no conflict.
  const site = await createItem(models.Site, dispatcher, { address: '1 River Rd', latitude: 51.5 }) as Item;
  await update('Site', { id: site.id, _version: 1, latitude: 51.6 }, dispatcher);

  const merged = await update('Site', { id: site.id, _version: 1, address: '2 River Rd' }, techA);

  expect(merged).toMatchObject({ address: '2 River Rd', latitude: 51.6, _version: 3 });
  expect(await conflictsOf(site.id)).toEqual([]);
});

describe('a @counter (Part.quantityOnHand)', () => {
  const count = async (id: string) => (await db.sql<{ q: number }[]>`select quantity_on_hand as q from parts where _datastore_uuid = ${id}`)[0]!.q;

  test('two devices and a plain-SQL writer count the same part: every count lands', async () => {
    // 1. 10 on hand, both devices read v1  2. the ERP books one out by SQL (9, v2)  3. device A counted
    // 3 out offline and sends 7  4. device B counted 2 out and sends 8: 10 - 1 - 3 - 2 = 4.
    const part = await createItem(models.Part, dispatcher, { quantityOnHand: 10 }) as Item;
    await db.sql`update parts set quantity_on_hand = quantity_on_hand - 1 where _datastore_uuid = ${part.id}`;

    expect(await update('Part', { id: part.id, _version: 1, quantityOnHand: 7 }, techA)).toMatchObject({ quantityOnHand: 6, _version: 3 });
    expect(await update('Part', { id: part.id, _version: 1, quantityOnHand: 8 }, techB)).toMatchObject({ quantityOnHand: 4, _version: 4 });
    expect(await count(part.id)).toBe(4);
    expect(await conflictsOf(part.id)).toEqual([]);
  });

  test('behind an API key (every device one writer) two devices counting from one base both count', async () => {
    const part = await createItem(models.Part, dispatcher, { quantityOnHand: 10 }) as Item;
    await update('Part', { id: part.id, _version: 1, quantityOnHand: 7 }, apiKey); // first device: three out (v2)

    expect(await update('Part', { id: part.id, _version: 1, quantityOnHand: 8 }, apiKey)).toMatchObject({ quantityOnHand: 5 }); // second: two out
  });

  test('a signed-in device\'s second write from the same base counts only what it added, and a replay counts nothing', async () => {
    // The client keeps a record's queued writes on the version it read until an answer matches what it
    // sent (a merged count does not): its second write, again based on v1, builds on its first.
    const part = await createItem(models.Part, dispatcher, { quantityOnHand: 10 }) as Item;
    await update('Part', { id: part.id, _version: 1, quantityOnHand: 9 }, techB); // B: one out (v2)
    const second = { id: part.id, _version: 1, quantityOnHand: 6 }; // A: one more

    expect(await update('Part', { id: part.id, _version: 1, quantityOnHand: 7 }, techA)).toMatchObject({ quantityOnHand: 6 }); // A: three out
    expect(await update('Part', second, techA)).toMatchObject({ quantityOnHand: 5 });
    expect(await update('Part', second, techA)).toMatchObject({ quantityOnHand: 5 }); // its answer lost, sent again: a replay
    expect(await count(part.id)).toBe(5);
  });

  test('a device\'s count queued on a version its earlier write was handed counts only itself (its chain crosses versions)', async () => {
    // 1. v1, 10 on hand  2. D edits the description (v2; the answer matches, so D's queued count moves
    // to v2)  3. the ERP books 5 in (15, v3)  4. D's count 10 -> 9, sent on v2, is merged (14, v4; the
    // answer differs, so D's next count stays on v1)  5. D's count 9 -> 8 on v1: 13, not 12.
    const part = await createItem(models.Part, dispatcher, { quantityOnHand: 10 }) as Item;
    await update('Part', { id: part.id, _version: 1, description: 'seal kit, 12 mm' }, techA);
    await db.sql`update parts set quantity_on_hand = quantity_on_hand + 5 where _datastore_uuid = ${part.id}`;
    expect(await update('Part', { id: part.id, _version: 2, quantityOnHand: 9 }, techA)).toMatchObject({ quantityOnHand: 14, _version: 4 });

    expect(await update('Part', { id: part.id, _version: 1, quantityOnHand: 8 }, techA)).toMatchObject({ quantityOnHand: 13, _version: 5 });
    expect(await conflictsOf(part.id)).toEqual([]);
  });

  test('a device sending again a value it sent before (10 -> 7 -> 6 -> 7) is a new count, not a replay', async () => {
    const part = await createItem(models.Part, dispatcher, { quantityOnHand: 10 }) as Item;
    await db.sql`update parts set quantity_on_hand = quantity_on_hand + 1 where _datastore_uuid = ${part.id}`; // 11, v2
    await update('Part', { id: part.id, _version: 1, quantityOnHand: 7 }, techA); // 8
    await update('Part', { id: part.id, _version: 1, quantityOnHand: 6 }, techA); // 7

    expect(await update('Part', { id: part.id, _version: 1, quantityOnHand: 7 }, techA)).toMatchObject({ quantityOnHand: 8, _version: 5 });
  });

  test('an edit sent without _version (queued while the create was in flight) builds on the device\'s create', async () => {
    const input = await sampleInput(models.Part);
    await ok(handlers.Part!, 'createPart', { input: { ...input, quantityOnHand: 10 }, condition: null }, techA);
    await db.sql`update parts set quantity_on_hand = quantity_on_hand - 1 where _datastore_uuid = ${input.id as string}`; // 9

    expect(await update('Part', { id: input.id, quantityOnHand: 8 }, techA)).toMatchObject({ quantityOnHand: 7, _version: 3 });
  });
});

describe('a list (Asset.tags)', () => {
  test('a stale write applies its additions and removals to the server\'s list', async () => {
    // base [hazardous, warranty]; the office adds inspected; the device removes hazardous and adds outdoor.
    const asset = await createItem(models.Asset, dispatcher, { tags: ['hazardous', 'warranty'] }) as Item;
    await update('Asset', { id: asset.id, _version: 1, tags: ['hazardous', 'warranty', 'inspected'] }, dispatcher);

    const merged = await update('Asset', { id: asset.id, _version: 1, tags: ['warranty', 'outdoor'] }, techA);

    expect(merged.tags).toEqual(['warranty', 'inspected', 'outdoor']);
  });

  test('an element both sides added is there once', async () => {
    const asset = await createItem(models.Asset, dispatcher, { tags: ['warranty'] }) as Item;
    await update('Asset', { id: asset.id, _version: 1, tags: ['warranty', 'inspected'] }, dispatcher);

    expect((await update('Asset', { id: asset.id, _version: 1, tags: ['warranty', 'inspected'] }, techA)).tags).toEqual(['warranty', 'inspected']);
  });
});

describe('the merge history', () => {
  test('records what each version changed, who wrote it through the API and from which base; other writers have none', async () => {
    const site = await createItem(models.Site, techA, { name: 'Depot' }) as Item;
    await update('Site', { id: site.id, _version: 1, name: 'Main depot' }, techB);
    await db.sql`update sites set address = 'by SQL' where id = ${site.id}`;

    expect(await db.sql`select _version::int, changed, writer, base_version::int, sent from versioning_merge.sites where id = ${site.id} order by _version`).toEqual([
      expect.objectContaining({ _version: 1, changed: {}, writer: 'user:tech-a', base_version: 0 }),
      { _version: 2, changed: { name: 'Depot' }, writer: 'user:tech-b', base_version: 1, sent: { name: 'Main depot' } },
      { _version: 3, changed: { address: site.address }, writer: null, base_version: null, sent: null },
    ]);
  });
});

describe('with resolvers of the models as other schemas might declare them', () => {
  let sql: Sql;
  beforeAll(() => {
    sql = connect(db.url, { max: 2 });
  });
  afterAll(() => sql.end());
  const call = async (model: ModelMeta, fieldName: string, args: Record<string, unknown>, identity: Identity, hooks = {}) =>
    (await modelResolver(model, hooks, { connection: () => sql })({ arguments: args, identity, info: { fieldName, parentTypeName: 'Mutation' } })).data as Item;

  test('FIRST_WRITE_WINS keeps the server\'s value of a field both changed; the device\'s value is logged and can be restored', async () => {
    // 1. v1  2. the office renames (v2)  3. a device renames from v1: the office's name stays, the
    // device's other field is applied, its name is logged  4. an operator restores the device's name.
    const site = await createItem(models.Site, dispatcher, { name: 'Depot', address: '1 River Rd' }) as Item;
    await update('Site', { id: site.id, _version: 1, name: 'North depot' }, dispatcher);
    const firstWriteWins: ModelMeta = { ...models.Site, fieldConflict: 'FIRST_WRITE_WINS' };

    const merged = await call(firstWriteWins, 'updateSite', { input: { id: site.id, _version: 1, name: 'Depot 7', address: '7 River Rd' } }, techA);

    expect(merged).toMatchObject({ name: 'North depot', address: '7 River Rd', _version: 3 });
    const [logged] = await conflictsOf(site.id);
    expect(logged).toMatchObject({ field: 'name', reason: 'conflict', kept: 'server', lost_value: 'Depot 7', kept_value: 'North depot', writer: 'user:tech-a', server_writer: 'user:dispatcher' });
    const [restored] = await db.sql<{ version: number }[]>`select versioning.restore_conflict(${logged!.id})::int as version`;
    expect(restored!.version).toBe(4);
    expect(await ok(handlers.Site!, 'getSite', { id: site.id }, dispatcher)).toMatchObject({ name: 'Depot 7', address: '7 River Rd', _version: 4 });
  });

  test('a CUSTOM hook receives the item as it was at the client\'s base version', async () => {
    const order = await createItem(models.WorkOrder, techA, { notes: 'pump noisy', priority: 'NORMAL' }) as Item;
    await update('WorkOrder', { id: order.id, _version: 1, priority: 'HIGH' }, dispatcher);
    const seen: ConflictContext[] = [];
    const resolveConflict = (context: ConflictContext) => {
      seen.push(context);
      return { action: 'RESOLVE' as const, data: context.incoming };
    };

    await call(models.WorkOrder, 'updateWorkOrder', { input: { id: order.id, _version: 1, notes: 'seal replaced' } }, techA, { resolveConflict });

    expect(seen).toHaveLength(1);
    expect(seen[0]!.base).toEqual({ ...order, _lastChangedAt: expect.any(Number), updatedAt: expect.any(String) });
    expect(seen[0]!.server).toMatchObject({ priority: 'HIGH', notes: 'pump noisy', _version: 2 });
  });
});

test('an unknown field or a wrong type in a stale write is refused before any merge, and changes nothing', async () => {
  const site = await createItem(models.Site, dispatcher) as Item;
  const v2 = await update('Site', { id: site.id, _version: 1, name: 'Renamed' }, dispatcher);

  expect(await invoke(handlers.Site!, 'updateSite', { input: { id: site.id, _version: 1, latitude: 'north' }, condition: null }, techA)).toMatchObject({ errorType: 'ValidationError' });
  expect(await invoke(handlers.Site!, 'updateSite', { input: { id: site.id, _version: 1, 'name; drop table sites': 'x' }, condition: null }, techA)).toMatchObject({ errorType: 'ValidationError' });
  expect(await ok(handlers.Site!, 'getSite', { id: site.id }, dispatcher)).toEqual(v2);
});
