-- Where a delta query of the AppSync SDK's Delta Sync (the `aws-appsync` client's buildSync, seed 001) must
-- start reading, so that a change committing late is not skipped (issue 15).
--
-- DataStore takes its next lastSync from the server (startedAt: the sync watermark, below every
-- transaction still open), so a late commit always falls in its next window. The older SDK takes it from
-- its own clock: after each base or delta query it stores now - 2 s, and sends that (in seconds) with the
-- next delta query. A change whose transaction was open during a query, stamped more than 2 s before it,
-- would fall before the next lastSync and never reach that device. So the server starts a delta query at
-- the watermark as it was when the device's previous query ran, when that is earlier than its lastSync:
-- the forwarder, which runs all the time, records the watermark every 10 s (versioning.sample_watermark,
-- packages/forwarder/src/forwarder.ts), and a delta query starts at the newest sample taken at least a
-- minute before the device's previous query (its lastSync + 2 s; the minute covers a device clock that
-- runs ahead). A change may then arrive twice; the SDK applies it by id, so that costs only bytes.
--
-- Samples are kept 25 hours: the SDK runs its base query instead once a day (baseRefreshIntervalInSeconds,
-- 24 h by default), so no delta query asks for older. A delta query never starts more than an hour before
-- its lastSync (a transaction open for longer than that across a query is not covered), and starts
-- exactly an hour before when no sample is old enough (a database whose forwarder has not run yet).

create table versioning.watermark_samples (
  at_ms     bigint primary key,  -- when it was taken (versioning.now_ms(), floored to 10 s)
  watermark bigint not null      -- versioning.sync_watermark() then
);
comment on table versioning.watermark_samples is
  'datastore-pg: the sync watermark over the last 25 hours, for delta queries of the AppSync SDK''s Delta Sync (versioning.legacy_sync_start)';

-- Records the watermark of now (at most one sample per 10 s) and forgets samples older than 25 hours.
create function versioning.sample_watermark() returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_now bigint := versioning.now_ms();
begin
  insert into versioning.watermark_samples (at_ms, watermark)
  values (v_now - v_now % 10000, versioning.sync_watermark())
  on conflict (at_ms) do nothing;
  delete from versioning.watermark_samples where at_ms < v_now - 25 * 3600000;
end
$$;
comment on function versioning.sample_watermark() is
  'datastore-pg: records the sync watermark, for delta queries of the AppSync SDK''s Delta Sync (the forwarder calls it every 10 s)';
revoke execute on function versioning.sample_watermark() from public;
grant execute on function versioning.sample_watermark() to datastore_runtime;

-- Where a delta query from last_sync_ms must start.
create function versioning.legacy_sync_start(last_sync_ms bigint) returns bigint
language sql stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select greatest(0, last_sync_ms - 3600000, least(last_sync_ms, coalesce(
    (select s.watermark from versioning.watermark_samples s
      where s.at_ms <= last_sync_ms + 2000 - 60000 order by s.at_ms desc limit 1),
    last_sync_ms - 3600000)))
$$;
comment on function versioning.legacy_sync_start(bigint) is
  'datastore-pg: where a Delta Sync (aws-appsync SDK) delta query from last_sync_ms must start';
revoke execute on function versioning.legacy_sync_start(bigint) from public;
grant execute on function versioning.legacy_sync_start(bigint) to datastore_runtime;
