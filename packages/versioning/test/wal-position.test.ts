// The pieces of a replica read that need no server: the position a replica must reach, the writer
// errors that turn replica reads off, and the signed cursor that carries the position.
import { DataStoreError, ErrorCode } from '../src';
import { cannotReportWal, replayTarget } from '../src/replica';
import { signToken, verifyToken, type SyncCursor } from '../src/token';

const PAGE = 8192;
const SEGMENT = 16 * 1024 * 1024;

test.each([
  ['inside a page: the insert position itself', '0/3005670', '0/3005670'],
  ['just past a page header, nothing after it: the page start', '0/3008018', '0/3008000'],
  ['just past the long header that opens a segment: the segment start', '1/A3000028', '1/A3000000'],
  ['a record that starts right after a header is no boundary', '0/3008020', '0/3008020'],
])('%s', (_case, insert, target) => {
  expect(replayTarget(insert, PAGE, SEGMENT)).toBe(target);
});

test('64 MB segments (RDS) take the long header at their own starts only', () => {
  expect(replayTarget('0/1000028', PAGE, 64 * 1024 * 1024)).toBe('0/1000028'); // 16 MB in: a page like any other, 40 bytes in is data
  expect(replayTarget('0/1000018', PAGE, 64 * 1024 * 1024)).toBe('0/1000000');
  expect(replayTarget('0/4000028', PAGE, 64 * 1024 * 1024)).toBe('0/4000000');
});

test.each([
  ['0A000', true], // feature_not_supported: Aurora's pg_current_wal_*
  ['55000', true], // object_not_in_prerequisite_state: recovery is in progress
  ['42501', true], // insufficient_privilege
  ['42883', true], // undefined_function
  ['57014', false], // a statement timeout: the request's trouble, not the writer's capability
  ['40001', false],
  ['CONNECTION_CLOSED', false],
])('%s turns replica reads off: %s', (code, off) => {
  expect(cannotReportWal(Object.assign(new Error('x'), { code }))).toBe(off);
});

describe('a cursor with a WAL position', () => {
  const key = 'k'.repeat(64);
  const cursor: SyncCursor = { model: 'Customer', mode: 'full', lastSync: 0, startedAt: 1_700_000_000_000, scope: 's', after: ['a'], lsn: '0/3005670' };

  test('keeps it through the token', () => {
    expect(verifyToken(signToken(cursor, key), key, { model: 'Customer', scope: 's' })).toMatchObject({ lsn: '0/3005670' });
  });

  test('is refused with an altered position (one further back would let a lagging replica answer)', () => {
    const [payload, signature] = signToken(cursor, key).split('.');
    const altered = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as SyncCursor;
    altered.lsn = '0/1';
    const forged = `${Buffer.from(JSON.stringify(altered)).toString('base64url')}.${signature}`;
    expect(() => verifyToken(forged, key, { model: 'Customer', scope: 's' })).toThrow(DataStoreError);
    try {
      verifyToken(forged, key, { model: 'Customer', scope: 's' });
    } catch (error) {
      expect((error as DataStoreError).code).toBe(ErrorCode.InvalidNextToken);
    }
  });

  test('an older token, without one, still verifies', () => {
    const { lsn: _lsn, ...older } = cursor;
    expect(verifyToken(signToken(older, key), key, { model: 'Customer', scope: 's' })).not.toHaveProperty('lsn');
  });
});
