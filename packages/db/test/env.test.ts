// Limits from the environment: a value that is not a whole number fails, naming the variable, instead
// of quietly becoming NaN (which postgres.js takes as "no statement timeout").
import { countFromEnv } from '../src';

test.each(['8s', '', ' ', '-1', '1.5', 'Infinity'])('%j is refused', (value) => {
  expect(() => countFromEnv('DB_STATEMENT_TIMEOUT_MS', 'milliseconds', 8000, 0, { DB_STATEMENT_TIMEOUT_MS: value }))
    .toThrow(`DB_STATEMENT_TIMEOUT_MS must be a number of milliseconds (0 or more), not ${JSON.stringify(value)}`);
});

test('unset takes the default; a number is taken; the minimum holds', () => {
  expect(countFromEnv('DB_POOL_MAX', 'connections', 1, 1, {})).toBe(1);
  expect(countFromEnv('DB_POOL_MAX', 'connections', 1, 1, { DB_POOL_MAX: '10' })).toBe(10);
  expect(() => countFromEnv('DB_POOL_MAX', 'connections', 1, 1, { DB_POOL_MAX: '0' })).toThrow('DB_POOL_MAX must be a number of connections (1 or more), not "0"');
});
