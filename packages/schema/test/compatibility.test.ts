// Safe schema changes: what would break apps already in the field is refused, each kind of it; what
// adds to the schema passes; and schema.graphql itself is checked against the last release on every run
// (a breaking change fails CI).
import { readFileSync } from 'node:fs';
import { renderAppSyncSchema } from '../src/appsync-sdl';
import { breakingChanges, RELEASED_SCHEMA_PATH } from '../src/compatibility';
import { readSchema } from '../src/generate';
import { parseModels } from '../src/parse';

const source = readSchema();
const appSyncSchema = (schema: string) => renderAppSyncSchema(parseModels(schema));
const released = appSyncSchema(source);
const edited = (from: string, to: string) => {
  if (!source.includes(from)) throw new Error(`schema.graphql has no ${from}`);
  return appSyncSchema(source.replace(from, to));
};

test('schema.graphql breaks nothing that the last release\'s apps rely on', async () => {
  expect(await breakingChanges(readFileSync(RELEASED_SCHEMA_PATH, 'utf8'), released)).toEqual([]);
});

test.each([
  ['a field removed', () => edited('  phone: AWSPhone\n', ''), /Field 'phone' .*removed from object type 'Customer'/],
  ['a type changed', () => edited('  phone: AWSPhone\n', '  phone: Int\n'), /Field 'Customer.phone' changed type from 'AWSPhone' to 'Int'/],
  ['a required field added (old apps\' creates lack it)', () => edited('  phone: AWSPhone\n', '  phone: AWSPhone\n  taxId: String!\n'), /Input field 'taxId' of type 'String!' was added to input object type 'CreateCustomerInput'/],
  ['an enum value removed', () => edited('  URGENT\n', ''), /Enum value 'URGENT' was removed from enum/],
])('refused: %s', async (_kind, change, message) => {
  expect(await breakingChanges(released, change())).toContainEqual(expect.stringMatching(message));
});

test('refused: a required field\'s @default removed once released (old apps\' creates lack the field)', async () => {
  const releasedWithDefault = edited('  phone: AWSPhone\n', '  phone: AWSPhone\n  taxId: String! @default(value: "none")\n');
  const withoutDefault = edited('  phone: AWSPhone\n', '  phone: AWSPhone\n  taxId: String!\n');
  expect(await breakingChanges(releasedWithDefault, withoutDefault))
    .toContainEqual(expect.stringMatching(/Input field 'CreateCustomerInput.taxId' changed type from 'String' to 'String!'/));
});

test('refused: a model removed', async () => {
  const withoutParts = appSyncSchema(source.slice(0, source.indexOf('type Part @model')));
  expect(await breakingChanges(released, withoutParts)).toContainEqual(expect.stringMatching(/Type 'Part' was removed/));
});

test('passed: a required field with a @default (the server fills it in for old apps\' creates)', async () => {
  const withDefault = appSyncSchema(source
    .replace('  phone: AWSPhone\n', '  phone: AWSPhone\n  tier: CustomerTier! @default(value: "STANDARD")\n')
    .replace('enum WorkOrderStatus {', 'enum CustomerTier {\n  STANDARD\n  KEY_ACCOUNT\n}\n\nenum WorkOrderStatus {'));
  expect(withDefault).toContain('  tier: CustomerTier!\n');
  expect(await breakingChanges(released, withDefault)).toEqual([]);
});

test('passed: an optional field and a new model', async () => {
  const additive = edited('  phone: AWSPhone\n', '  phone: AWSPhone\n  website: AWSURL\n')
    .replace('type Query {', 'type Invoice @aws_api_key {\n  id: ID!\n}\n\ntype Query {');
  expect(await breakingChanges(released, additive)).toEqual([]);
});
