// The conflict strategies a model opts into: Automerge (WorkLog) and WorkOrder's custom hook, and the
// condition argument. The default, MERGE, has its own tests (merge.test.ts, contract.ts).
import { models } from '@datastore-pg/schema/models';
import { invoke, ok, user } from './appsync';
import { useHandlerDatabase } from './database';
import { createItem } from './fixtures';
import { handlers } from './handlers';

const db = useHandlerDatabase();
const tech = user('tech-1');
type Item = Record<string, unknown> & { id: string; _version: number };

describe('Automerge (WorkLog)', () => {
  const handler = handlers.WorkLog!;
  const update = (input: Record<string, unknown>) => invoke(handler, 'updateWorkLog', { input, condition: null }, tech);

  test('a stale update merges: incoming values fill empty fields, the server keeps its values elsewhere', async () => {
    // 1. a log with minutes 30 and no note  2. device A sets minutes 45 (v2)  3. device B, still at v1,
    // sets minutes 20 and a note  4. merged: minutes stays 45 (server wins a scalar), the note is taken.
    const log = (await createItem(models.WorkLog, tech, { minutes: 30, note: null })) as Item;
    await update({ id: log.id, _version: 1, minutes: 45 });

    const merged = await update({ id: log.id, _version: 1, minutes: 20, note: 'replaced the seal' });

    expect(merged).toEqual({ data: expect.objectContaining({ id: log.id, minutes: 45, note: 'replaced the seal', _version: 3 }) });
    // The refused value is not lost silently: it is in the conflict log.
    expect(await db.sql`select field, reason, kept, lost_value, kept_value from versioning.conflicts where item_id = ${log.id}`)
      .toEqual([{ field: 'minutes', reason: 'automerge', kept: 'server', lost_value: 20, kept_value: 45 }]);
  });

  test('a stale update with nothing to merge answers the server item unchanged', async () => {
    const log = (await createItem(models.WorkLog, tech, { minutes: 30, note: 'first' })) as Item;
    const v2 = (await update({ id: log.id, _version: 1, minutes: 45 })).data;

    expect(await update({ id: log.id, _version: 1, minutes: 20 })).toEqual({ data: v2 });
  });
});

describe('custom hook (WorkOrder)', () => {
  const handler = handlers.WorkOrder!;
  const update = (input: Record<string, unknown>) => invoke(handler, 'updateWorkOrder', { input, condition: null }, tech);
  const remove = (input: Record<string, unknown>) => invoke(handler, 'deleteWorkOrder', { input, condition: null }, tech);

  test('on an open work order, the device\'s fields apply over the server\'s and notes are appended', async () => {
    const order = (await createItem(models.WorkOrder, tech, { notes: 'pump noisy', priority: 'NORMAL' })) as Item;
    await update({ id: order.id, _version: 1, notes: 'pump noisy\nbearing worn', priority: 'HIGH' });

    const resolved = await update({ id: order.id, _version: 1, status: 'IN_PROGRESS', notes: 'ordered parts offline' });

    expect(resolved).toEqual({ data: expect.objectContaining({
      status: 'IN_PROGRESS', priority: 'HIGH', notes: 'pump noisy\nbearing worn\nordered parts offline', _version: 3,
    }) });
  });

  test('a work order closed on the server rejects a stale edit and a stale delete', async () => {
    const order = (await createItem(models.WorkOrder, tech)) as Item;
    const closed = (await update({ id: order.id, _version: 1, status: 'COMPLETED' })).data;

    expect(await update({ id: order.id, _version: 1, notes: 'late note' })).toEqual({ data: closed, errorType: 'ConflictUnhandled', errorMessage: expect.any(String) });
    expect(await remove({ id: order.id, _version: 1 })).toMatchObject({ data: closed, errorType: 'ConflictUnhandled' });
  });

  test('a stale delete of an open work order deletes it', async () => {
    const order = (await createItem(models.WorkOrder, tech)) as Item;
    await update({ id: order.id, _version: 1, priority: 'URGENT' });

    expect(await remove({ id: order.id, _version: 1 })).toEqual({ data: expect.objectContaining({ id: order.id, _deleted: true, _version: 3 }) });
  });
});

describe('condition', () => {
  const handler = handlers.Site!;

  test('a write whose condition does not hold answers ConditionalCheckFailed and changes nothing', async () => {
    const site = (await createItem(models.Site, tech, { name: 'Depot' })) as Item;

    const refused = await invoke(handler, 'updateSite', { input: { id: site.id, _version: 1, name: 'Moved' }, condition: { name: { eq: 'Elsewhere' } } }, tech);
    expect(refused).toEqual({ data: site, errorType: 'ConditionalCheckFailed', errorMessage: expect.any(String) });

    const applied = await invoke(handler, 'updateSite', { input: { id: site.id, _version: 1, name: 'Moved' }, condition: { name: { eq: 'Depot' } } }, tech);
    expect(applied).toEqual({ data: expect.objectContaining({ name: 'Moved', _version: 2 }) });
  });
});

test('a refused value names who wrote the server\'s value of that field since the base', async () => {
  const order = (await createItem(models.WorkOrder, tech, { priority: 'NORMAL' })) as Item;
  await invoke(handlers.WorkOrder!, 'updateWorkOrder', { input: { id: order.id, _version: 1, status: 'COMPLETED' }, condition: null }, user('dispatcher', ['Dispatchers']));

  await invoke(handlers.WorkOrder!, 'updateWorkOrder', { input: { id: order.id, _version: 1, status: 'IN_PROGRESS', priority: 'HIGH' }, condition: null }, tech);

  // The closed order's hook rejects: status was the dispatcher's, priority nobody's since the base.
  expect(await db.sql`select field, reason, lost_value, server_writer from versioning.conflicts where item_id = ${order.id} order by field`).toEqual([
    { field: 'priority', reason: 'rejected', lost_value: 'HIGH', server_writer: null },
    { field: 'status', reason: 'rejected', lost_value: 'IN_PROGRESS', server_writer: 'user:dispatcher' },
  ]);
});
