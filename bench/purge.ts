// P7: purging expired journal rows by whole partitions (migration 000012) against the batched DELETE
// used before, in the same run: the longest a writer beside it waited, and the WAL each wrote.
import { connect, type Sql } from '@datastore-pg/db';
import { seconds, type Figure } from './measure';

/**
 * P7: purge of n expired journal rows, two ways in the same run. A partitioned journal (000012) whose
 * partitions have all expired: each is detached and dropped, as versioning.purge does, one transaction
 * each, while a writer takes the journal's lock in a loop beside it; its longest wait is the longest the
 * DETACH's ACCESS EXCLUSIVE lock kept anyone (a reader waits the same: that lock conflicts with every
 * other). And the same rows in a journal as it was before 000012 (one table, primary key seq),
 * purged by the batched DELETE purge used then: 1,000 rows a transaction, row locks only. For both, the
 * WAL written (pg_current_wal_lsn before and after, each after a checkpoint, so both pay their full-page
 * images). A table of its own, so that no other journal's purge is counted.
 */
export async function purgeByPartition(sql: Sql, url: string, n: number, record: (figure: Figure) => void): Promise<void> {
  const parts = 4;
  const cleanUp = async () => {
    if ((await sql`select to_regclass('purge_bench') as t`)[0]!.t) {
      await sql`delete from versioning.models where base_table = 'purge_bench'::regclass`;
      await sql`drop table purge_bench, versioning_delta.purge_bench, versioning_merge.purge_bench`;
      await sql`drop function versioning_delta.purge_bench_stamp(), versioning_delta.purge_bench_journal()`;
    }
    await sql`drop table if exists purge_bench_rowwise`;
  };
  await cleanUp();
  await sql`create table purge_bench (id uuid primary key default gen_random_uuid(), name text, email text)`;
  await sql`select versioning.enable('purge_bench')`;
  await sql`
    create table purge_bench_rowwise (
      seq bigint generated always as identity primary key, id text not null, _version bigint not null,
      _deleted boolean not null, _last_changed_at bigint not null, item jsonb not null)`;
  await sql`create index on purge_bench_rowwise (_last_changed_at, seq)`;
  await sql`create index on purge_bench_rowwise (id, seq)`;
  // The rows: changes spread over four past hours, an hour or more before now (the delta TTL is 30
  // minutes), in partitions the purge would have created then.
  const [{ now }] = (await sql`select versioning.now_ms()::float8 as now`) as unknown as [{ now: number }];
  const oldest = now - 5 * 3_600_000;
  for (let i = 0; i < parts; i++) {
    const name = `versioning_delta.purge_bench_past${i}`;
    await sql.unsafe(`create table ${name} (like versioning_delta.purge_bench)`);
    await sql.unsafe(`alter table versioning_delta.purge_bench attach partition ${name} for values from (${oldest + i * 3_600_000}) to (${oldest + (i + 1) * 3_600_000})`);
  }
  for (const table of ['versioning_delta.purge_bench', 'purge_bench_rowwise']) {
    for (let done = 0; done < n; done += 100_000) {
      await sql`
        insert into ${sql(table)} (id, _version, _deleted, _last_changed_at, item)
        select gen_random_uuid()::text, 1, false, ${oldest}::bigint + (g * ${parts * 3_600_000}::bigint / ${n}),
               jsonb_build_object('name', 'Customer ' || g, 'email', 'c' || g || '@example.com', '_version', 1, '_deleted', false)
          from generate_series(${done}::int, ${Math.min(done + 100_000, n) - 1}::int) g`;
    }
    await sql`vacuum analyze ${sql(table)}`;
  }

  const wal = async (fn: () => Promise<void>) => {
    // Superusers and pg_checkpoint only; elsewhere both sides just go without it.
    await sql`checkpoint`.catch(() => undefined);
    const [{ lsn }] = (await sql`select pg_current_wal_lsn()::text as lsn`) as unknown as [{ lsn: string }];
    await fn();
    const [{ bytes }] = (await sql`select pg_wal_lsn_diff(pg_current_wal_lsn(), ${lsn}::pg_lsn)::float8 as bytes`) as unknown as [{ bytes: number }];
    return bytes;
  };
  // A writer beside the purge: it takes the lock an INSERT into the journal takes (ROW EXCLUSIVE, which
  // DETACH's ACCESS EXCLUSIVE blocks, like every other lock on the journal), again and again until told
  // to stop; its longest wait, measured by the server between the statements before and after the LOCK
  // (one simple query), so neither the network nor this machine's scheduling counts. Writes nothing.
  const writer = connect(url, { max: 1 });
  const lockBeside = async (table: string, fn: () => Promise<void>) => {
    let stop = false;
    let longest = 0;
    let locks = 0;
    const lock = `
      begin;
      select set_config('bench.before_lock', clock_timestamp()::text, true);
      lock table only ${table} in row exclusive mode;
      select (extract(epoch from clock_timestamp() - current_setting('bench.before_lock')::timestamptz) * 1000)::float8 as waited;
      commit`;
    const locking = (async () => {
      while (!stop) {
        const results = (await writer.unsafe(lock).simple()) as unknown as { waited?: number }[][];
        longest = Math.max(longest, results.flat().find((row) => row.waited !== undefined)!.waited!);
        locks++;
      }
    })();
    while (locks < 10) await new Promise((done) => setTimeout(done, 1));
    try {
      await fn();
    } finally {
      stop = true;
      await locking;
    }
    return { longest, locks };
  };

  let partitionRows = 0;
  let dropped = 0;
  let longestStatement = 0;
  const timed = async <T>(fn: () => Promise<T>) => {
    const started = process.hrtime.bigint();
    const result = await fn();
    longestStatement = Math.max(longestStatement, Number(process.hrtime.bigint() - started) / 1e6);
    return result;
  };
  let partitionedWait = { longest: 0, locks: 0 };
  let partitionedSeconds = 0;
  const partitionedWal = await wal(async () => {
    partitionedSeconds = await seconds(async () => {
      partitionedWait = await lockBeside('versioning_delta.purge_bench', async () => {
        for (;;) {
          const [{ detached }] = (await timed(() => sql`select versioning.detach_expired_partition('purge_bench', 'delta')::text as detached`)) as unknown as [{ detached: string | null }];
          const [gone] = (await sql`select partitions, rows::int from versioning.drop_detached_partitions('versioning_delta.purge_bench')`) as unknown as [{ partitions: number; rows: number }];
          partitionRows += gone.rows;
          dropped += gone.partitions;
          if (!detached) break;
        }
        // What the partitions left (nothing here): the row-by-row batches the procedure runs next.
        for (;;) {
          const [{ n: deleted }] = (await sql`select versioning.purge_delta('purge_bench', 1000) as n`) as unknown as [{ n: number }];
          partitionRows += deleted;
          if (deleted < 1000) break;
        }
      });
    });
  });

  const batches: number[] = [];
  let rowwiseRows = 0;
  let rowwiseWait = { longest: 0, locks: 0 };
  let rowwiseSeconds = 0;
  const rowwiseWal = await wal(async () => {
    rowwiseSeconds = await seconds(async () => {
      rowwiseWait = await lockBeside('purge_bench_rowwise', async () => {
        for (;;) {
          const started = process.hrtime.bigint();
          // versioning.purge_delta before 000012 (migration 000005), on the unpartitioned copy.
          const [{ deleted }] = (await sql`
            with purged as (
              delete from purge_bench_rowwise where seq = any(array(
                select d.seq from purge_bench_rowwise d where d._last_changed_at < ${now - 1_800_000} order by d._last_changed_at, d.seq limit 1000))
              returning _last_changed_at)
            select count(*)::int as deleted, max(_last_changed_at) from purged`) as unknown as [{ deleted: number }];
          batches.push(Number(process.hrtime.bigint() - started) / 1e6);
          rowwiseRows += deleted;
          if (deleted < 1000) break;
        }
      });
    });
  });
  await writer.end();
  await cleanUp();

  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 1)} MB`;
  const longestBatch = Math.max(...batches);
  console.log(`P7 detail: partitioned ${dropped} partitions, ${partitionRows} rows, ${partitionedSeconds.toFixed(2)} s, longest DETACH statement ${longestStatement.toFixed(1)} ms (client side), ${partitionedWait.locks} locks beside; ` +
    `row-wise ${batches.length} batches, ${rowwiseRows} rows, ${rowwiseSeconds.toFixed(2)} s, ${rowwiseWait.locks} locks beside`);
  record({
    id: 'P7',
    measure: `purge of ${n} expired journal rows: partitioned journal (${parts} expired partitions detached and dropped) vs the same rows in an unpartitioned one (batched DELETEs of 1,000, as before 000012)`,
    value: `longest wait of a writer beside it ${partitionedWait.longest.toFixed(1)} ms (${rowwiseWait.longest.toFixed(1)} ms beside the row-by-row purge, which takes no table lock); WAL ${mb(partitionedWal)} vs ${mb(rowwiseWal)} row by row (longest batch ${longestBatch.toFixed(1)} ms), ${(rowwiseWal / partitionedWal).toFixed(0)}× less`,
    target: 'lock ≤ 10 ms, less WAL than row by row',
    met: partitionedWait.longest <= 10 && partitionedWal < rowwiseWal && partitionRows === n && rowwiseRows === n,
  });
}
