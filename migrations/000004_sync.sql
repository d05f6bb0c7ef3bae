-- What the sync handlers need from the database: a safe upper bound for a sync window, and the key that
-- signs sync page tokens.

-- The sync watermark (design.md §4, "late commit"). Rows are stamped with their transaction's start time
-- but become visible only at commit, so a sync that returned everything up to "now" would never return a
-- row stamped earlier that commits later. The watermark is therefore 1 ms below the start of the oldest
-- transaction still open in this database (and below the current time): every row stamped at or below
-- it is already committed (or never will be), so a sync window (lastSync, watermark] is complete, and the
-- next window starts where it ended. A long-open transaction holds the watermark back: devices then
-- receive some changes twice, which they apply by _version, but never miss one.
-- Security definer: other roles' xact_start is visible only to members of pg_read_all_stats, which the
-- owner of this function (the migration role) must be; the runtime role needs only EXECUTE.
create function versioning.sync_watermark() returns bigint
language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  select least(
           floor(extract(epoch from clock_timestamp()) * 1000)::bigint,
           (select floor(extract(epoch from min(a.xact_start)) * 1000)::bigint
              from pg_stat_activity a
             where a.datid = (select oid from pg_database where datname = current_database())
               and a.pid <> pg_backend_pid()
               and a.xact_start is not null
               -- autovacuum writes no rows: it must not hold the watermark back
               and a.backend_type <> 'autovacuum worker')
         ) - 1
$$;

-- The key that signs nextToken (HMAC-SHA256), so a client cannot forge or alter a sync cursor. It lives
-- here rather than in code or templates: created at random by this migration, readable by the roles
-- that run the handlers. Replacing it invalidates the tokens of syncs in progress; clients then restart
-- that sync.
create table versioning.settings (
  singleton       boolean primary key default true check (singleton),
  sync_token_key  text not null
);
grant select on versioning.settings to datastore_runtime;
insert into versioning.settings (sync_token_key)
values (encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || clock_timestamp()::text, 'UTF8')), 'hex'));
