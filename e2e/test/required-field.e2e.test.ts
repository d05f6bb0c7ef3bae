// A release adds a required field while phones still run the release before, whose generated models lack
// it. With @default, such a phone's create is stored with the default and stays on the phone; without it,
// the API requires the field in CreateTicketInput, refuses the create, and DataStore drops it (design.md §6):
// the change `npm run schema:check` refuses. The real DataStore client, against the local endpoint serving
// release 2's schema.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeClientModels } from '@datastore-pg/codegen';
import { newDevCredentials, startLocalAppSync, writeSchemaRoot, type LocalAppSync } from '@datastore-pg/local-appsync';
import { useTestDatabase } from '@datastore-pg/testing';
import { Device, type Item } from './devices';

jest.setTimeout(90_000);

const RELEASE_1 = 'type Ticket @model @auth(rules: [{ allow: public }]) { id: ID! title: String! }';
const release2 = (priority: string) => `
  enum TicketPriority { LOW NORMAL HIGH }
  type Ticket @model @auth(rules: [{ allow: public }]) { id: ID! title: String! ${priority} }`;

const dir = join(__dirname, '../../.data', `e2e-required-field-${process.pid}`);
const credentials = newDevCredentials();
const servers = new Map<'withDefault' | 'withoutDefault', LocalAppSync>();
const devices: Device[] = [];

// Before the database's hooks: the endpoints close their connections before the database is dropped.
afterAll(async () => {
  await Promise.all([...servers.values()].map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});
const db = useTestDatabase();

beforeAll(async () => {
  // The table as release 1 made it, then release 2's migration (README, "Adding a required field safely").
  await db.sql`create table tickets (id uuid primary key default gen_random_uuid(), title text not null)`;
  await db.sql`select versioning.enable('tickets')`;
  await db.sql`create type ticket_priority as enum ('LOW', 'NORMAL', 'HIGH')`;
  await db.sql`alter table tickets add column priority ticket_priority not null default 'NORMAL'`;
  await writeClientModels(join(dir, 'models'), 'javascript', RELEASE_1);
  process.env.DATABASE_URL = db.url;
  for (const [name, priority] of [['withDefault', 'priority: TicketPriority! @default(value: "NORMAL")'], ['withoutDefault', 'priority: TicketPriority!']] as const) {
    writeSchemaRoot(join(dir, name), release2(priority));
    servers.set(name, await startLocalAppSync({ credentials, root: join(dir, name) }));
  }
}, 60_000);

afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.close()));
});

/** A phone still on release 1, started against one of release 2's APIs. */
async function oldPhone(server: 'withDefault' | 'withoutDefault'): Promise<Device> {
  const phone = await Device.launch(`phone on release 1 (${server})`, { endpoint: servers.get(server)!.url, apiKey: credentials.apiKey, modelsDir: join(dir, 'models') });
  devices.push(phone);
  await phone.start();
  return phone;
}

test('with @default: a phone on the release before creates a ticket, stored with the default, not dropped', async () => {
  // 1. The phone saves a ticket; its model has no priority, so the create does not send one.
  const phone = await oldPhone('withDefault');
  const saved = await phone.call<Item>('save', { model: 'Ticket', fields: { title: 'Pump leaks' } });
  await phone.synced();

  // 2. The server accepted it, with the default filled in.
  const [create] = phone.requests('createTicket');
  expect(create).toMatchObject({ input: { id: saved.id, title: 'Pump leaks' }, data: { id: saved.id, title: 'Pump leaks', _version: 1 } });
  expect(create!.input).not.toHaveProperty('priority');
  expect(create!.errorType).toBeUndefined();
  expect(await db.sql`select title, priority::text from tickets where id = ${saved.id}`).toEqual([{ title: 'Pump leaks', priority: 'NORMAL' }]);

  // 3. The phone keeps its ticket, at the server's version.
  await phone.until('Ticket', (items) => items.find((t) => t.id === saved.id && t._version === 1));
});

test('without @default: the same create is refused and DataStore drops it', async () => {
  const phone = await oldPhone('withoutDefault');
  const saved = await phone.call<Item>('save', { model: 'Ticket', fields: { title: 'Gauge broken' } });
  const create = await phone.event((e) => e.event === 'request' && e.operation === 'createTicket');
  expect(create.errorType).toBe('ValidationError'); // Field "priority" of required type "TicketPriority!" was not provided

  // Dropped, not retried (a drop sends no outboxStatus event: wait a while instead), and never stored.
  await new Promise((done) => setTimeout(done, 2000));
  expect(phone.requests('createTicket')).toHaveLength(1);
  expect(await db.sql`select id from tickets where id = ${saved.id}`).toEqual([]);
});
