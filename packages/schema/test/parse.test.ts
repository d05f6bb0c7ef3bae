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

test('@default: the value read as the field\'s type', () => {
  const [job] = parseModels(`
    enum Priority { LOW NORMAL HIGH }
    type Job @model @auth(rules: [{ allow: public }]) {
      id: ID!
      priority: Priority! @default(value: "NORMAL")
      minutes: Int! @default(value: "-30") @counter
      rate: Float @default(value: "12.5e1")
      billable: Boolean! @default(value: "false")
      stamp: AWSTimestamp @default(value: "1773483300000")
      code: ID @default(value: "none")
      note: String! @default(value: "")
      dueOn: AWSDate @default(value: "2030-01-31")
      contact: AWSEmail @default(value: "desk@example.com")
      extra: AWSJSON @default(value: "{\\"source\\": \\"app\\"}")
      title: String!
    }`);
  const defaults = Object.fromEntries(job!.fields.filter((f) => 'default' in f).map((f) => [f.name, f.default]));
  expect(defaults).toEqual({
    priority: 'NORMAL', minutes: -30, rate: 125, billable: false, stamp: 1_773_483_300_000, code: 'none', note: '',
    dueOn: '2030-01-31', contact: 'desk@example.com', extra: '{"source": "app"}',
  });
  expect(job!.fields.find((f) => f.name === 'priority')).toMatchObject({ required: true, default: 'NORMAL' });
  expect(job!.fields.find((f) => f.name === 'minutes')).toMatchObject({ counter: true, default: -30 });
});

const withDefault = (field: string, extra = '') => `enum Priority { LOW NORMAL } ${extra}
  type Job @model @auth(rules: [{ allow: owner }, { allow: public }]) { id: ID! ${field} }`;

test.each([
  // where a default does not belong
  ['on a list', withDefault('tags: [String] @default(value: "a")'), /Job.tags: @default does not apply to a list field/],
  ['on the id', 'type Job @model @auth(rules: [{ allow: public }]) { id: ID! @default(value: "x") }', /Job.id: @default does not apply to the id/],
  ['on a relation', withDefault('siteID: ID! site: Site @belongsTo(references: ["siteID"]) @default(value: "x")', `type Site @model ${auth} { id: ID! }`), /Job.site: @default does not apply to a relation/],
  ['on a relation\'s reference', withDefault('siteID: ID! @default(value: "x") site: Site @belongsTo(references: ["siteID"])', `type Site @model ${auth} { id: ID! }`), /Job.siteID: @default does not apply to a relation's reference field/],
  ['on a server-set timestamp', withDefault('createdAt: AWSDateTime @default(value: "2026-01-01T00:00:00Z")'), /Job.createdAt: @default does not apply to a field the server sets/],
  ['on the owner field', withDefault('owner: String @default(value: "nobody")'), /Job.owner: @default does not apply to the owner field/],
  // how it is written
  ['without a value', withDefault('n: Int! @default'), /@default takes one argument, value/],
  ['with another argument', withDefault('n: Int! @default(value: "1", when: "create")'), /@default takes one argument, value/],
  ['a value not a string literal', withDefault('n: Int! @default(value: 1)'), /@default\(value:\) must be a string/],
  ['a null value', withDefault('n: Int @default(value: null)'), /@default\(value:\) must be a string/],
  ['twice on a field', withDefault('n: Int! @default(value: "1") @default(value: "2")'), /directive @default appears twice/],
  // values that do not parse as the field's type
  ['an Int that is text', withDefault('n: Int! @default(value: "12abc")'), /Job.n: @default\(value: "12abc"\) is not an Int/],
  ['an Int with a fraction', withDefault('n: Int! @default(value: "1.5")'), /is not an Int \(a 32-bit integer\)/],
  ['an Int beyond 32 bits', withDefault('n: Int! @default(value: "2147483648")'), /is not an Int \(a 32-bit integer\)/],
  ['a Float that is text', withDefault('x: Float @default(value: "about 3")'), /is not a Float/],
  ['an empty Float', withDefault('x: Float @default(value: "")'), /is not a Float/],
  ['a Boolean spelt otherwise', withDefault('b: Boolean! @default(value: "yes")'), /is not a Boolean \(true or false\)/],
  ['an AWSTimestamp that is a date', withDefault('t: AWSTimestamp @default(value: "2026-01-01")'), /is not an AWSTimestamp/],
  ['a value outside the enum', withDefault('p: Priority! @default(value: "URGENT")'), /@default\(value: "URGENT"\) is not a value of enum Priority \(LOW, NORMAL\)/],
  ['an empty ID', withDefault('ref: ID @default(value: "")'), /is not an ID/],
  ['a bad AWSDate', withDefault('d: AWSDate @default(value: "2026-02-30x")'), /is not a valid AWSDate/],
  ['a bad AWSDateTime', withDefault('d: AWSDateTime @default(value: "tomorrow")'), /is not a valid AWSDateTime/],
  ['a bad AWSEmail', withDefault('e: AWSEmail @default(value: "desk")'), /is not a valid AWSEmail/],
  ['a bad AWSJSON', withDefault('j: AWSJSON @default(value: "{oops")'), /is not a valid AWSJSON/],
])('@default refused %s', (_name, source, message) => {
  expect(() => parseModels(source)).toThrow(SchemaError);
  expect(() => parseModels(source)).toThrow(message);
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
