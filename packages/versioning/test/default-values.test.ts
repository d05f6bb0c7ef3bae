// A required field added by a release, with @default: apps built before it leave it out of their creates,
// and the server fills it in; a null, an update, a value sent are left alone. The migration that adds the
// column carries the same DEFAULT, so the rows already there and other writers' inserts get it too.
import { parseModels } from '@datastore-pg/schema';
import { useTestDatabase } from '@datastore-pg/testing';
import { modelResolver, type Resolver } from '../src';

const db = useTestDatabase();

const ticketSchema = `
  enum TicketPriority { LOW NORMAL HIGH }
  type Ticket @model @auth(rules: [{ allow: public }]) {
    id: ID!
    title: String!
    priority: TicketPriority! @default(value: "NORMAL")
    estimate: Int! @default(value: "30")
    billable: Boolean! @default(value: "true")
    dueOn: AWSDate @default(value: "2030-01-31")
    source: AWSJSON @default(value: "{\\"channel\\":\\"app\\"}")
  }`;
const [Ticket] = parseModels(ticketSchema);

const call = (resolve: Resolver, fieldName: string, args: Record<string, unknown>) =>
  resolve({ arguments: args, identity: null, info: { fieldName, parentTypeName: /^(sync|get)/.test(fieldName) ? 'Query' : 'Mutation' } })
    .then((r) => r.data as Record<string, unknown>);

let tickets: Resolver;

beforeAll(async () => {
  // No column DEFAULT here: what a create stores, the server put there.
  await db.sql`create type ticket_priority as enum ('LOW', 'NORMAL', 'HIGH')`;
  await db.sql`
    create table tickets (
      id uuid primary key, title text not null, priority ticket_priority not null, estimate integer not null,
      billable boolean not null, due_on date, source jsonb)`;
  await db.sql`select versioning.enable('tickets')`;
  tickets = modelResolver(Ticket!, {}, { connection: () => db.sql });
});

test('a create without the fields gets their defaults, typed as the fields, stored and returned', async () => {
  const created = await call(tickets, 'createTicket', { input: { title: 'Pump leaks' } });
  const defaults = { priority: 'NORMAL', estimate: 30, billable: true, dueOn: '2030-01-31', source: '{"channel":"app"}' };
  expect(created).toMatchObject({ title: 'Pump leaks', ...defaults, _version: 1 });
  const [row] = await db.sql`select priority::text, estimate, billable, due_on::text, source from tickets where id = ${created.id as string}`;
  expect(row).toEqual({ priority: 'NORMAL', estimate: 30, billable: true, due_on: '2030-01-31', source: { channel: 'app' } });
  const { items } = (await call(tickets, 'syncTickets', { lastSync: 0 })) as unknown as { items: Record<string, unknown>[] };
  expect(items.find((i) => i.id === created.id)).toMatchObject(defaults);
});

test('values sent are kept; an optional field sent as null takes its default, as DataStore sends null for what the app did not set', async () => {
  const created = await call(tickets, 'createTicket', { input: { title: 'Gauge', priority: 'HIGH', estimate: 0, billable: false, dueOn: null, source: null } });
  expect(created).toMatchObject({ priority: 'HIGH', estimate: 0, billable: false, dueOn: '2030-01-31', source: '{"channel":"app"}' });
});

test.each([
  ['priority', 'TicketPriority'],
  ['estimate', 'Int'],
  ['billable', 'Boolean'],
])('a required field sent as null (%s) is still refused: a broken client, not an old one', async (field) => {
  const count = async () => (await db.sql`select count(*)::int as n from tickets`)[0]!.n as number;
  const before = await count();
  await expect(call(tickets, 'createTicket', { input: { title: 'Null', [field]: null } }))
    .rejects.toMatchObject({ code: 'ValidationError', message: `${field} cannot be null` });
  expect(await count()).toBe(before);
});

test('an update without the field leaves the stored value as it is', async () => {
  const created = await call(tickets, 'createTicket', { input: { title: 'Valve', priority: 'LOW', estimate: 90 } });
  const updated = await call(tickets, 'updateTicket', { input: { id: created.id, _version: 1, title: 'Valve, north side' } });
  expect(updated).toMatchObject({ title: 'Valve, north side', priority: 'LOW', estimate: 90, _version: 2 });
  await expect(call(tickets, 'updateTicket', { input: { id: created.id, _version: 2, priority: null } })).rejects.toMatchObject({ code: 'ValidationError' });
});

test('the release step: the column added with the same DEFAULT; rows already there and SQL inserts get it too', async () => {
  // 1. Release 1: a chore created by an app, before the field existed.
  const [ChoreV1] = parseModels('type Chore @model @auth(rules: [{ allow: public }]) { id: ID! title: String! }');
  await db.sql`create table chores (id uuid primary key default gen_random_uuid(), title text not null)`;
  await db.sql`select versioning.enable('chores')`;
  const old = await call(modelResolver(ChoreV1!, {}, { connection: () => db.sql }), 'createChore', { input: { title: 'Before' } });

  // 2. Release 2's migration, as the README has it.
  await db.sql`alter table chores add column priority text not null default 'NORMAL'`;
  const [ChoreV2] = parseModels('type Chore @model @auth(rules: [{ allow: public }]) { id: ID! title: String! priority: String! @default(value: "NORMAL") }');
  const chores = modelResolver(ChoreV2!, {}, { connection: () => db.sql });

  // 3. An ERP inserts by SQL; an app still on release 1 creates one (it knows no priority).
  await db.sql`insert into chores (title) values ('From the ERP')`;
  await call(chores, 'createChore', { input: { title: 'Old app' } });

  const { items } = (await call(chores, 'syncChores', { lastSync: 0 })) as unknown as { items: Record<string, unknown>[] };
  expect(items.map((i) => [i.title, i.priority]).sort()).toEqual([['Before', 'NORMAL'], ['From the ERP', 'NORMAL'], ['Old app', 'NORMAL']]);
  // Adding the column makes no new version: a device on release 2 has the value from its first sync (a new
  // client schema wipes DataStore's local store, design.md §6); devices on release 1 do not select it.
  expect(items.find((i) => i.id === old.id)).toMatchObject({ _version: 1 });
});
