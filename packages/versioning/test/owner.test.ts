// Owner rules with a claim other than username (identityClaim: "sub"), and a required owner field: the
// server fills the owner with the identity the owner checks later compare with.
import { parseModels } from '@datastore-pg/schema';
import { useTestDatabase } from '@datastore-pg/testing';
import { modelResolver } from '../src';

const db = useTestDatabase();
const [WorkOrder] = parseModels(`
  enum WorkOrderStatus { OPEN }
  enum WorkOrderPriority { NORMAL }
  type WorkOrder @model @refersTo(name: "work_orders")
    @auth(rules: [{ allow: owner, identityClaim: "sub" }, { allow: groups, groups: ["Dispatchers"] }]) {
    id: ID!
    siteID: ID!
    title: String!
    status: WorkOrderStatus!
    priority: WorkOrderPriority!
    owner: String!
  }`);
const user = (sub: string, username: string, groups: string[] = []) => ({ sub, username, claims: { sub, 'cognito:username': username }, groups });

test('the owner is the identity under the rule\'s claim, for owners and group members alike', async () => {
  const resolve = modelResolver(WorkOrder!, {}, { connection: () => db.sql });
  const [customer] = await db.sql<{ id: string }[]>`insert into customers (name) values ('Owner Co') returning id`;
  const [site] = await db.sql<{ id: string }[]>`insert into sites (customer_id, name) values (${customer!.id}, 'Yard') returning id`;
  const create = (identity: ReturnType<typeof user>, title: string) =>
    resolve({ arguments: { input: { siteID: site!.id, title, status: 'OPEN', priority: 'NORMAL' } }, identity, info: { fieldName: 'createWorkOrder', parentTypeName: 'Mutation' } })
      .then((r) => r.data as { id: string; owner: string });

  // The owner field is required, yet a technician need not send it: the server fills it in.
  const own = await create(user('sub-tech', 'tech'), 'own');
  expect(own.owner).toBe('sub-tech');
  // A dispatcher (group rule) creating one gets their sub too, not their username.
  const dispatched = await create(user('sub-disp', 'disp', ['Dispatchers']), 'dispatched');
  expect(dispatched.owner).toBe('sub-disp');
  // ...so the owner rule recognises the dispatcher's item as theirs when they sign in without the group.
  const { data } = await resolve({ arguments: { id: dispatched.id }, identity: user('sub-disp', 'disp'), info: { fieldName: 'getWorkOrder', parentTypeName: 'Query' } });
  expect(data).toMatchObject({ id: dispatched.id, owner: 'sub-disp' });
});
