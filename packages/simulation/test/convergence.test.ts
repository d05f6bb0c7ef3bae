// No change missed, no edit lost, nothing duplicated: 20 devices, SQL writers, late commits, long offline
// spells and purges, and every replica equals the server at the end. The same run with a naive cursor
// (startedAt = now) must fail, or the simulation could not catch what it is for.
import { createTestDatabase } from '@datastore-pg/testing';
import { simulate } from '../src';

test('every replica converges on the server', async () => {
  const db = await createTestDatabase();
  try {
    const report = await simulate({ sql: db.connect(6), seed: 20261122, devices: 20, steps: 1500 });
    console.log(JSON.stringify(report.ops), `conflicts ${report.conflicts}`);
    expect(report.mismatches).toEqual([]);
    expect({ missed: report.missed, lost: report.lost, duplicated: report.duplicated }).toEqual({ missed: 0, lost: 0, duplicated: 0 });
    // The run exercised what it claims to.
    for (const [op, count] of Object.entries(report.ops)) expect([op, count > 0]).toEqual([op, true]);
    expect(report.conflicts).toBeGreaterThan(0);
  } finally {
    await db.drop();
  }
}, 120_000);

test('with a naive cursor the same kind of run misses changes', async () => {
  const db = await createTestDatabase();
  try {
    await db.sql`create or replace function versioning.sync_watermark() returns bigint language sql as $$ select floor(extract(epoch from clock_timestamp()) * 1000)::bigint $$`;
    const report = await simulate({ sql: db.connect(6), seed: 20261122, devices: 20, steps: 1500 });
    expect(report.missed).toBeGreaterThan(0);
  } finally {
    await db.drop();
  }
}, 120_000);
