-- The purge's health, for the forwarder to report to CloudWatch (packages/forwarder/src/health.ts) as the
-- runtime role: pg_cron shows a job's runs only to the role that scheduled it (its row security on
-- cron.job_run_details), so this function runs as its owner, the migration role that scheduled the purge
-- (000002). Nulls where pg_cron does not run the purge in this database (npm run dev purges on a timer).
create function versioning.purge_health(out failures_last_hour int, out last_success timestamptz)
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  if to_regclass('cron.job_run_details') is null then
    return;
  end if;
  -- The job's latest runs by the primary key, not a scan of every run pg_cron ever recorded.
  execute $q$
    select count(*) filter (where r.status = 'failed' and r.start_time > now() - interval '1 hour')::int,
           max(r.end_time) filter (where r.status = 'succeeded')
      from (select r.status, r.start_time, r.end_time from cron.job_run_details r
             where r.jobid in (select j.jobid from cron.job j where j.command like '%versioning.purge%')
             order by r.runid desc limit 1000) r
  $q$ into failures_last_hour, last_success;
end
$$;
comment on function versioning.purge_health() is 'datastore-pg: failed purge runs in the last hour and the last successful one (null: pg_cron does not purge here)';
revoke execute on function versioning.purge_health() from public;
grant execute on function versioning.purge_health() to datastore_runtime;
