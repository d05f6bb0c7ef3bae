// The retry budget comes from DB_RETRY_BUDGET_MS, read when the resolver is made (a container's cold
// start): a value that is not a number fails there, naming the variable, not on every request.
import { parseModels } from '@datastore-pg/schema';
import { modelResolver } from '../src';

const [model] = parseModels('type Site @model @auth(rules: [{ allow: public }]) { id: ID! }');

afterEach(() => {
  delete process.env.DB_RETRY_BUDGET_MS;
});

test.each(['20s', '', '-1', 'Infinity'])('%j is refused', (value) => {
  process.env.DB_RETRY_BUDGET_MS = value;
  expect(() => modelResolver(model!)).toThrow(`DB_RETRY_BUDGET_MS must be a number of milliseconds (0 or more), not ${JSON.stringify(value)}`);
});

test.each(['0', '2500'])('%j is taken', (value) => {
  process.env.DB_RETRY_BUDGET_MS = value;
  expect(() => modelResolver(model!)).not.toThrow();
});
