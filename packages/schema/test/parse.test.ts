import { parseModels, SchemaError } from '../src/parse';
import { pluralName, snakeCase } from '../src/naming';

const auth = '@auth(rules: [{ allow: public }])';

test('names map to snake_case tables and columns unless @refersTo names them', () => {
  const [model] = parseModels(`
    type WorkOrder @model ${auth} { id: ID! siteID: ID! serialNumber: String quantityOnHand: Int! }
    type Part @model @refersTo(name: "erp_parts") ${auth} { id: ID! @refersTo(name: "_datastore_uuid") sku: String! }`);
  expect(model).toMatchObject({ name: 'WorkOrder', pluralName: 'WorkOrders', table: 'work_orders', conflictHandler: 'MERGE', fieldConflict: 'LATEST_WRITE_WINS' });
  expect(model!.fields.map((f) => [f.name, f.column])).toEqual([
    ['id', 'id'], ['siteID', 'site_id'], ['serialNumber', 'serial_number'], ['quantityOnHand', 'quantity_on_hand'],
    ['createdAt', 'created_at'], ['updatedAt', 'updated_at'],
  ]);
  const part = parseModels(`type Part @model @refersTo(name: "erp_parts") ${auth} { id: ID! @refersTo(name: "_datastore_uuid") }`)[0]!;
  expect(part.table).toBe('erp_parts');
  expect(part.fields[0]).toMatchObject({ name: 'id', column: '_datastore_uuid' });
});

test('relations, enums, owner rules and timestamps', () => {
  const models = parseModels(`
    enum Status { OPEN DONE }
    type Site @model ${auth} { id: ID! jobs: [Job] @hasMany(references: ["siteID"]) }
    type Job @model(timestamps: null) @conflict(handler: AUTOMERGE)
      @auth(rules: [{ allow: owner }, { allow: groups, groups: ["Admins"] }]) {
      id: ID! siteID: ID! site: Site @belongsTo(references: ["siteID"]) status: Status! tags: [String]
    }`);
  const job = models.find((m) => m.name === 'Job')!;
  expect(job.relations).toEqual([{ name: 'site', kind: 'belongsTo', model: 'Site', references: ['siteID'], target: { table: 'sites', idColumn: 'id' } }]);
  expect(job.fields.find((f) => f.name === 'status')!.type).toEqual({ kind: 'enum', name: 'Status', values: ['OPEN', 'DONE'] });
  expect(job.fields.find((f) => f.name === 'tags')).toMatchObject({ list: true, required: false });
  expect(job.fields.find((f) => f.name === 'owner')).toMatchObject({ column: 'owner', readOnly: false }); // implicit, as Amplify adds it
  expect(job.fields.some((f) => f.name === 'createdAt')).toBe(false);
  expect(job.auth).toEqual([
    { allow: 'owner', provider: 'userPools', ownerField: 'owner', identityClaim: 'username' },
    { allow: 'groups', provider: 'userPools', groups: ['Admins'] },
  ]);
  expect(job.conflictHandler).toBe('AUTOMERGE');
});

test('merge policy and counters', () => {
  const [stock] = parseModels(`
    type Stock @model @conflict(handler: MERGE, fieldConflict: FIRST_WRITE_WINS) ${auth} { id: ID! count: Int! @counter weight: Float @counter name: String }`);
  expect(stock).toMatchObject({ conflictHandler: 'MERGE', fieldConflict: 'FIRST_WRITE_WINS' });
  expect(stock!.fields.filter((f) => f.counter).map((f) => f.name)).toEqual(['count', 'weight']);
  expect(stock!.fields.find((f) => f.name === 'name')).not.toHaveProperty('counter');
});

test.each([
  ['no @auth', 'type A @model { id: ID! }', /needs @auth/],
  ['no id', `type A @model ${auth} { name: String }`, /needs an "id: ID!" field/],
  ['unknown directive', `type A @model @searchable ${auth} { id: ID! }`, /@searchable is not supported/],
  ['unknown type', `type A @model ${auth} { id: ID! where: Location }`, /Location is not a scalar/],
  ['relation without directive', `type A @model ${auth} { id: ID! b: B } type B @model ${auth} { id: ID! }`, /needs exactly one of/],
  ['belongsTo to an undeclared field', `type A @model ${auth} { id: ID! b: B @belongsTo(references: ["bID"]) } type B @model ${auth} { id: ID! }`, /references field bID/],
  ['a directive twice', `type A @model @model(timestamps: null) ${auth} { id: ID! }`, /appears twice/],
  ['bad conflict handler', `type A @model @conflict(handler: LAMBDA) ${auth} { id: ID! }`, /must be one of/],
  ['a merge policy without MERGE', `type A @model @conflict(handler: AUTOMERGE, fieldConflict: FIRST_WRITE_WINS) ${auth} { id: ID! }`, /applies to handler MERGE only/],
  ['a counter on a string', `type A @model ${auth} { id: ID! name: String @counter }`, /@counter needs an Int or Float/],
  ['a counter on a list', `type A @model ${auth} { id: ID! counts: [Int] @counter }`, /@counter needs an Int or Float/],
  ['SQL in @refersTo', `type A @model @refersTo(name: "a; drop table b") ${auth} { id: ID! }`, /SQL identifier/],
  ['unsupported rule', 'type A @model @auth(rules: [{ allow: custom }]) { id: ID! }', /not supported/],
])('refuses %s', (_name, source, message) => {
  expect(() => parseModels(source)).toThrow(SchemaError);
  expect(() => parseModels(source)).toThrow(message);
});

test('naming helpers', () => {
  expect(snakeCase('HTMLPage')).toBe('html_page');
  expect(snakeCase('customerID')).toBe('customer_id');
  expect(pluralName('Category')).toBe('Categories');
  expect(pluralName('Person')).toBe('People');
});
