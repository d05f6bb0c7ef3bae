// The convergence simulation (src/simulate.ts, src/merge.ts), on one database per run.
//  - Customers (OPTIMISTIC_CONCURRENCY): no change missed, no edit lost, nothing duplicated: 12 devices,
//    SQL writers, late commits, long offline spells and purges, and every replica equals the server at
//    the end. The same kind of run with a naive cursor (startedAt = now) must fail, or the simulation
//    could not catch what it is for.
//  - Parts (MERGE, quantityOnHand @counter): 10 devices that are distinct users, with DataStore's outbox
//    (changed fields only, offline edits merged, the version hand-off, lost answers re-sent as they were)
//    and SQL writers edit the same fields and count the same parts: no device edit may be lost unless it
//    is in versioning.conflicts, and every count must land exactly once.
import { createTestDatabase, type TestDatabase } from '@datastore-pg/testing';
import { simulate, summary, type SimulationReport } from '../src';

describe('a run of both parts', () => {
  let db: TestDatabase;
  let report: SimulationReport;
  beforeAll(async () => {
    db = await createTestDatabase();
    const started = Date.now();
    // 12 devices rather than 20: every SQL write between two sync pages is read by every device, and
    // with 20 devices at 5 items a page the writes fed on themselves (between 15 and 65 s for this seed,
    // depending on the machine's load); 12 devices over 2000 steps do as many edits and conflicts.
    report = await simulate({ sql: db.connect(6), seed: 20261122, devices: 12, steps: 2000, merge: { devices: 10, steps: 4000, lostAnswers: 0.15 } });
    console.log(`${summary(report)}\n${((Date.now() - started) / 1000).toFixed(1)} s\n${[...report.mismatches, ...report.merge!.mismatches].slice(0, 20).join('\n')}`);
  }, 110_000);
  afterAll(async () => {
    await db?.drop();
  });

  test('Customers: every replica converges on the server', () => {
    expect(report.mismatches).toEqual([]);
    expect({ missed: report.missed, lost: report.lost, duplicated: report.duplicated }).toEqual({ missed: 0, lost: 0, duplicated: 0 });
    // The run exercised what it claims to.
    for (const [op, count] of Object.entries(report.ops)) expect([op, count > 0]).toEqual([op, true]);
    expect(report.conflicts).toBeGreaterThan(0);
  });

  test('Parts: every replica converges, and every device edit was applied once or is in the conflict log', () => {
    const merge = report.merge!;
    const { diverged, unapplied, appliedTwice, lostEdits, refused } = merge.failures;
    expect({ diverged, unapplied, appliedTwice, lostEdits, refused }).toEqual({ diverged: 0, unapplied: 0, appliedTwice: 0, lostEdits: 0, refused: 0 });
    // The run exercised what it claims to: concurrent edits merged and logged, counts, lost answers
    // replayed, outbox merges and hand-offs.
    for (const [op, count] of Object.entries(merge.ops)) expect([op, count > 0]).toEqual([op, true]);
    for (const [what, count] of Object.entries({ merges: merge.merges, replays: merge.replays, conflictsLogged: merge.conflictsLogged })) {
      expect([what, count > 0]).toEqual([what, true]);
    }
  });

  // Each count is the device's own difference, counted once: a device's writes chain across the
  // versions DataStore hands its queued ones (merge.ts, ownChain).
  test('Parts: every count lands exactly once', () => {
    const { wrongCounts, miscounted } = report.merge!.failures;
    expect({ wrongCounts, miscounted }).toEqual({ wrongCounts: 0, miscounted: 0 });
  });
});

test('with a naive cursor the same kind of run misses changes', async () => {
  const db = await createTestDatabase();
  try {
    await db.sql`create or replace function versioning.sync_watermark() returns bigint language sql as $$ select floor(extract(epoch from clock_timestamp()) * 1000)::bigint $$`;
    // Smaller than the run above (it misses dozens of changes at this size on every seed tried), so that
    // the file stays well within its time.
    const report = await simulate({ sql: db.connect(6), seed: 20261122, devices: 10, steps: 600 });
    expect(report.missed).toBeGreaterThan(0);
  } finally {
    await db.drop();
  }
}, 60_000);
