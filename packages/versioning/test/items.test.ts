// Rows become items through a mapper compiled once per model: every field type the schema allows must
// still come out as AppSync returns it, through a sync and through a write.
import { parseModels } from '@datastore-pg/schema';
import { useTestDatabase } from '@datastore-pg/testing';
import { modelResolver } from '../src';

const db = useTestDatabase();

const [Gadget] = parseModels(`
  enum Colour { RED BLUE }
  type Gadget @model @auth(rules: [{ allow: public }]) {
    id: ID!
    tags: [String!]
    colours: [Colour!]
    specs: AWSJSON
    readings: [AWSJSON!]
    price: Float
    serial: AWSTimestamp
    counts: [Int!]
    installedAt: AWSDateTime
    servicedAt: AWSDateTime
    installedOn: AWSDate
    active: Boolean
  }`);

beforeAll(async () => {
  await db.sql`create type colour as enum ('RED', 'BLUE')`;
  await db.sql`
    create table gadgets (
      id uuid primary key, tags text[], colours colour[], specs jsonb, readings jsonb, price numeric,
      serial bigint, counts int4[], installed_at timestamptz, serviced_at timestamp, installed_on date, active boolean)`;
  await db.sql`select versioning.enable('gadgets')`;
});

test('every field type comes back in its AppSync form, from a write and from a sync', async () => {
  const resolve = modelResolver(Gadget!, {}, { connection: () => db.sql });
  const input = {
    id: '0b9c1a62-5f0e-4e59-9d1e-1d2f3a4b5c6d',
    tags: ['pump', 'north'],
    colours: ['RED', 'BLUE'],
    specs: '{"kW":7.5,"phases":[1,3]}',
    readings: ['{"bar":2}', '[1,2]'],
    price: 1234.5,
    serial: 9_007_199_254_740,
    counts: [3, -1],
    installedAt: '2026-11-22T05:06:07.123Z',
    servicedAt: '2026-11-21T23:59:59.999Z', // a timestamp without time zone holds UTC
    installedOn: '2026-11-22',
    active: false,
  };
  const created = (await resolve({ arguments: { input }, identity: null, info: { fieldName: 'createGadget', parentTypeName: 'Mutation' } })).data;
  const { data: synced } = (await resolve({ arguments: { lastSync: 0 }, identity: null, info: { fieldName: 'syncGadgets', parentTypeName: 'Query' } })) as { data: { items: unknown[] } };

  for (const item of [created, synced.items[0]]) {
    expect(item).toEqual({
      ...input,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      _version: 1,
      _deleted: false,
      _lastChangedAt: expect.any(Number),
    });
  }

  // A list written by an update, read back by a delta sync (the row rebuilt from its journal image).
  const lastSync = (created as { _lastChangedAt: number })._lastChangedAt;
  await new Promise((done) => setTimeout(done, 10)); // the next write lands in a later millisecond
  const updated = (await resolve({ arguments: { input: { id: input.id, _version: 1, colours: ['BLUE'], tags: [] } }, identity: null, info: { fieldName: 'updateGadget', parentTypeName: 'Mutation' } })).data;
  expect(updated).toMatchObject({ colours: ['BLUE'], tags: [], _version: 2 });
  await new Promise((done) => setTimeout(done, 10)); // inside the next sync's window (watermark: 1 ms below now)
  const { data: delta } = (await resolve({ arguments: { lastSync }, identity: null, info: { fieldName: 'syncGadgets', parentTypeName: 'Query' } })) as { data: { items: unknown[] } };
  expect(delta.items).toEqual([updated]);

  const empty = { id: '1b9c1a62-5f0e-4e59-9d1e-1d2f3a4b5c6d' };
  const bare = (await resolve({ arguments: { input: empty }, identity: null, info: { fieldName: 'createGadget', parentTypeName: 'Mutation' } })).data;
  expect(bare).toMatchObject({ tags: null, colours: null, specs: null, readings: null, price: null, serial: null, counts: null, installedAt: null, servicedAt: null, installedOn: null, active: null });
});

test('a merged conflict writes AWSJSON and list values the client sent, each checked once', async () => {
  // AUTOMERGE takes the client's value where the server has none: the client sends AWSJSON as a JSON
  // string, which must reach the column as that JSON, not be parsed a second time.
  const [Merged] = parseModels(`
    type Gadget @model @refersTo(name: "gadgets") @conflict(handler: AUTOMERGE) @auth(rules: [{ allow: public }]) {
      id: ID!
      tags: [String!]
      specs: AWSJSON
    }`);
  const resolve = modelResolver(Merged!, {}, { connection: () => db.sql });
  const call = (fieldName: string, args: Record<string, unknown>) =>
    resolve({ arguments: args, identity: null, info: { fieldName, parentTypeName: 'Mutation' } }).then((r) => r.data as Record<string, unknown>);
  const id = '2b9c1a62-5f0e-4e59-9d1e-1d2f3a4b5c6d';
  await call('createGadget', { input: { id, tags: ['a'] } });
  await call('updateGadget', { input: { id, _version: 1, tags: ['b'] } });

  const merged = await call('updateGadget', { input: { id, _version: 1, specs: '"123"', tags: ['c'] } });

  expect(merged).toMatchObject({ specs: '"123"', tags: ['b', 'c'], _version: 3 });
  const [row] = await db.sql<{ kind: string }[]>`select jsonb_typeof(specs) as kind from gadgets where id = ${id}`;
  expect(row!.kind).toBe('string');
});
