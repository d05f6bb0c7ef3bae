-- Versioning a large table in use without an outage (issue 16). versioning.enable does everything in one
-- transaction under the strong lock its ALTER TABLE takes: on a table of 1,000,000 rows it held every
-- reader and writer for 7.4 s (a DataStore id column with a volatile default rewrites the table, then
-- three indexes are built). The online enable does the same work in steps that block no one for long:
--
--   call versioning.enable_online('erp_orders');           -- 1. columns, 2. ids, in committed batches
--   create unique index concurrently if not exists erp_orders_id_key on erp_orders (id);       -- 3.
--   create index concurrently if not exists erp_orders_last_changed_at_idx on erp_orders (_last_changed_at, id);
--   create index concurrently if not exists erp_orders_tombstone_ttl_idx on erp_orders (_ttl) where _deleted;
--   call versioning.enable_online_finish('erp_orders');    -- 4. not null, 5. journals and triggers
--
-- as a migration that runs outside a transaction (first line `-- datastore-pg: no-transaction`, README
-- "Migrations"): CREATE INDEX CONCURRENTLY cannot run in one, and the procedures commit as they go.
-- versioning.enable_online_statements('erp_orders') prints the lines above for a table.
--
-- 1. The metadata columns, added without a rewrite: constant defaults (_version 1, _deleted false,
--    _last_changed_at 0 for the rows already there, then now_ms() for new ones) and now() for the
--    timestamps (a stable default is stored once, not written into every row). A missing DataStore id
--    column is added empty, with gen_random_uuid() as the default for rows inserted from then on.
-- 2. The ids of the rows already there, in batches of about batch_size rows, each its own transaction:
--    a pass over the table's pages in order, then the rows it missed (moved by updates meanwhile), rows
--    other sessions hold skipped and taken by a later batch; progress in versioning.online_enables and as
--    a NOTICE per batch.
-- 3. The indexes, CONCURRENTLY: writers go on.
-- 4. A NOT VALID check that the id is not null, validated (a scan that blocks no writer), then SET NOT
--    NULL, which trusts the valid check instead of scanning under its strong lock.
-- 5. versioning.enable, which now finds columns and indexes in place: it creates the journals, registers
--    the table and installs its triggers, holding the table's strong lock for that transaction only.
--
-- Every strong lock is taken with a short lock_timeout (lock_timeout_ms, 200 ms by default) and retried,
-- up to 50 times, after a pause, instead of queueing: a lock waiting behind a long reader would make
-- every later reader and writer of the table wait behind it. Until step 5 the table has no triggers: a
-- write meanwhile is neither stamped nor journaled, and needs not be: no device has synced the table yet,
-- so the first sync of every device is a full sync, which reads every row as it is then.
--
-- Resumable: killed at any point (the procedure's session terminated, the migration runner stopped), the
-- same statements run again finish the job: columns and constraint are added only if missing, the ids
-- only where still null, an index a killed CREATE INDEX CONCURRENTLY left invalid is dropped by the next
-- enable_online (a short lock) and built again, and finish redoes what it has not done.

create table versioning.online_enables (
  base_table       regclass primary key,
  id_column        name not null,
  rows_estimate    bigint not null,   -- the table's size when it began (pg_class.reltuples)
  ids_backfilled   bigint not null default 0,
  started_at       timestamptz not null default now(),
  backfilled_at    timestamptz,
  finished_at      timestamptz
);
comment on table versioning.online_enables is 'datastore-pg: progress of each versioning.enable_online, step by step';

-- Runs one DDL statement with the lock_timeout given, retrying on lock_not_available (55P03) after a
-- pause of twice the timeout, at most 50 times; raises the last failure.
create function versioning.ddl_with_short_locks(statement text, lock_timeout_ms int) returns void
language plpgsql
as $$
declare
  v_attempt int := 0;
begin
  loop
    begin
      perform set_config('lock_timeout', lock_timeout_ms || 'ms', true);
      execute statement;
      perform set_config('lock_timeout', '0', true);
      return;
    exception when lock_not_available then
      v_attempt := v_attempt + 1;
      if v_attempt >= 50 then
        raise;
      end if;
      perform pg_sleep(2 * lock_timeout_ms / 1000.0);
    end;
  end loop;
end
$$;

-- The names versioning.enable gives a table's indexes (it creates them only when missing).
create function versioning.enable_online_statements(base_table regclass, id_column name default 'id') returns setof text
language sql stable
as $$
  select format('call versioning.enable_online(%L, %L);', base_table::text, id_column)
  union all
  select format('create unique index concurrently if not exists %I on %s (%I);', c.relname || '_' || id_column || '_key', base_table, id_column)
    from pg_class c where c.oid = base_table
  union all
  select format('create index concurrently if not exists %I on %s (_last_changed_at, %I);', c.relname || '_last_changed_at_idx', base_table, id_column)
    from pg_class c where c.oid = base_table
  union all
  select format('create index concurrently if not exists %I on %s (_ttl) where _deleted;', c.relname || '_tombstone_ttl_idx', base_table)
    from pg_class c where c.oid = base_table
  union all
  select format('call versioning.enable_online_finish(%L);', base_table::text)
$$;
comment on function versioning.enable_online_statements(regclass, name) is
  'datastore-pg: the statements of a no-transaction migration that versions a large table online';

-- Whether any row's column is null.
create function versioning.has_null(base_table regclass, column_name name) returns boolean
language plpgsql stable
as $$
declare
  v_found boolean;
begin
  execute format('select exists (select from %s where %I is null)', base_table, column_name) into v_found;
  return v_found;
end
$$;

-- Adds a batch's ids to the progress, and tells it (a NOTICE, for the migration runner's log).
create function versioning.count_ids_backfilled(base_table regclass, ids bigint) returns void
language plpgsql
as $$
declare
  v_done bigint;
begin
  update versioning.online_enables e set ids_backfilled = e.ids_backfilled + ids
   where e.base_table = count_ids_backfilled.base_table returning e.ids_backfilled into v_done;
  if ids > 0 then
    raise notice '%: % ids filled in', base_table, v_done;
  end if;
end
$$;

-- Steps 1 and 2. Does nothing to a table already versioned.
create procedure versioning.enable_online(
  base_table regclass,
  id_column name default 'id',
  timestamps boolean default true,
  batch_size int default 5000,
  lock_timeout_ms int default 200
)
language plpgsql
as $$
declare
  v_table name;
  v_id_type regtype;
  v_index record;
  v_batch int;
  v_fill text;
  v_pages bigint;
  v_pages_per_batch int;
  v_page bigint;
begin
  if exists (select from versioning.models m where m.base_table = enable_online.base_table) then
    raise notice '% is versioned already', base_table;
    return;
  end if;
  if batch_size < 1 or lock_timeout_ms < 1 then
    raise exception 'batch_size and lock_timeout_ms must be positive' using errcode = '22023';
  end if;
  select c.relname into v_table from pg_class c where c.oid = base_table and c.relkind in ('r', 'p');
  if not found then
    raise exception '% is not a table', base_table using errcode = '42809';
  end if;
  insert into versioning.online_enables (base_table, id_column, rows_estimate)
  select base_table, id_column, greatest(c.reltuples, 0)::bigint from pg_class c where c.oid = base_table
  on conflict on constraint online_enables_pkey do nothing;
  if (select e.id_column from versioning.online_enables e where e.base_table = enable_online.base_table) <> id_column then
    raise exception 'the online enable of % began with id column %', base_table,
      (select e.id_column from versioning.online_enables e where e.base_table = enable_online.base_table) using errcode = '22023';
  end if;

  -- An index a killed CREATE INDEX CONCURRENTLY left invalid: IF NOT EXISTS would keep it as it is.
  for v_index in
    select i.indexrelid::regclass as name from pg_index i join pg_class x on x.oid = i.indexrelid
     where i.indrelid = base_table and not i.indisvalid
       and x.relname in (v_table || '_' || id_column || '_key', v_table || '_last_changed_at_idx', v_table || '_tombstone_ttl_idx')
  loop
    perform versioning.ddl_with_short_locks(format('drop index %s', v_index.name), lock_timeout_ms);
    commit;
  end loop;

  -- 1. Columns, without a rewrite.
  perform versioning.ddl_with_short_locks(format($ddl$
    alter table %s
      add column if not exists _version bigint not null default 1,
      add column if not exists _deleted boolean not null default false,
      add column if not exists _last_changed_at bigint not null default 0,
      add column if not exists _ttl timestamptz
      %s
  $ddl$, base_table,
    case when timestamps then ', add column if not exists created_at timestamptz not null default now(), add column if not exists updated_at timestamptz not null default now()' else '' end),
    lock_timeout_ms);
  perform versioning.assert_column_type(base_table, '_version', 'bigint');
  perform versioning.assert_column_type(base_table, '_deleted', 'boolean');
  perform versioning.assert_column_type(base_table, '_last_changed_at', 'bigint');
  perform versioning.assert_column_type(base_table, '_ttl', 'timestamp with time zone');
  select a.atttypid into v_id_type from pg_attribute a where a.attrelid = base_table and a.attname = id_column and not a.attisdropped;
  if v_id_type is null then
    perform versioning.ddl_with_short_locks(format('alter table %s add column %I uuid', base_table, id_column), lock_timeout_ms);
    v_id_type := 'uuid';
  elsif v_id_type not in ('uuid'::regtype, 'text'::regtype, 'character varying'::regtype) then
    raise exception 'id column %.% is %, but a DataStore id must be uuid or text', v_table, id_column, v_id_type using errcode = '42804';
  end if;
  perform versioning.ddl_with_short_locks(format(
    'alter table %1$s alter column _last_changed_at set default versioning.now_ms(), alter column %2$I set default gen_random_uuid()%3$s',
    base_table, id_column, case when v_id_type = 'uuid'::regtype then '' else '::text' end), lock_timeout_ms);
  commit;

  -- 2. Ids, in committed batches. First a pass over the table's pages in order, a range of them per
  -- batch (a TID range scan: each batch reads only its own pages, where looking for rows still without
  -- an id from the table's start would read every page filled before it, again and again: quadratic on
  -- a large table). The rows that pass did not reach (updated meanwhile, a new version of a row lands
  -- on a page already passed) are then taken in batches of those left, until none lacks an id.
  v_fill := format('update %1$s set %2$I = gen_random_uuid()%3$s', base_table, id_column,
                   case when v_id_type = 'uuid'::regtype then '' else '::text' end);
  select greatest(1, pg_relation_size(base_table) / current_setting('block_size')::int),
         greatest(1, floor(batch_size * greatest(c.relpages, 1) / greatest(c.reltuples, 1))::int)
    into v_pages, v_pages_per_batch
    from pg_class c where c.oid = base_table;
  v_page := 0;
  while v_page < v_pages loop
    execute v_fill || format(' where ctid >= %L::tid and ctid < %L::tid and %I is null',
                             format('(%s,0)', v_page), format('(%s,0)', v_page + v_pages_per_batch), id_column);
    get diagnostics v_batch = row_count;
    v_page := v_page + v_pages_per_batch;
    perform versioning.count_ids_backfilled(base_table, v_batch);
    commit;
  end loop;
  loop
    execute v_fill || format(' where ctid = any(array(select t.ctid from %1$s t where t.%2$I is null limit $1 for update skip locked))',
                             base_table, id_column)
      using batch_size;
    get diagnostics v_batch = row_count;
    perform versioning.count_ids_backfilled(base_table, v_batch);
    commit;
    -- Done when no row lacks one; rows held by other sessions (skipped) are taken by the next batches.
    exit when v_batch = 0 and not versioning.has_null(base_table, id_column);
    if v_batch = 0 then
      perform pg_sleep(0.05);
    end if;
  end loop;
  update versioning.online_enables e set backfilled_at = now() where e.base_table = enable_online.base_table;
  commit;
end
$$;

-- Steps 4 and 5.
create procedure versioning.enable_online_finish(
  base_table regclass,
  base_table_ttl interval default null,
  delta_sync_table_ttl interval default null,
  lock_timeout_ms int default 200
)
language plpgsql
as $$
declare
  v_progress versioning.online_enables;
  v_table name;
  v_check name;
  v_missing text;
begin
  if exists (select from versioning.models m where m.base_table = enable_online_finish.base_table) then
    raise notice '% is versioned already', base_table;
    return;
  end if;
  select * into v_progress from versioning.online_enables e where e.base_table = enable_online_finish.base_table;
  if v_progress.backfilled_at is null then
    raise exception 'the online enable of % has not filled in its ids yet', base_table
      using errcode = '55000', hint = format('call versioning.enable_online(%L) first', base_table::text);
  end if;
  select c.relname into strict v_table from pg_class c where c.oid = base_table;
  select string_agg(s.name, ', ') into v_missing
    from unnest(array[v_table || '_' || v_progress.id_column || '_key', v_table || '_last_changed_at_idx', v_table || '_tombstone_ttl_idx']) s(name)
   where not exists (select from pg_index i join pg_class x on x.oid = i.indexrelid
                      where i.indrelid = base_table and x.relname = s.name and i.indisvalid);
  if v_missing is not null then
    raise exception 'the online enable of % lacks valid indexes: %', base_table, v_missing
      using errcode = '55000', hint = format('run the CREATE INDEX CONCURRENTLY statements of versioning.enable_online_statements(%L) first', base_table::text);
  end if;

  -- 4. Not null, without a scan under the strong lock: a NOT VALID check (a short lock; new rows and
  -- updates are held to it from then on, and have an id: the default, or the one filled in), validated
  -- by a scan that blocks no reader or writer, which SET NOT NULL then trusts.
  v_check := v_table || '_' || v_progress.id_column || '_not_null';
  if exists (select from pg_attribute a where a.attrelid = base_table and a.attname = v_progress.id_column and not a.attnotnull) then
    if not exists (select from pg_constraint k where k.conrelid = base_table and k.conname = v_check) then
      perform versioning.ddl_with_short_locks(format('alter table %s add constraint %I check (%I is not null) not valid', base_table, v_check, v_progress.id_column), lock_timeout_ms);
      commit;
    end if;
    execute format('alter table %s validate constraint %I', base_table, v_check);
    commit;
    perform versioning.ddl_with_short_locks(format('alter table %s alter column %I set not null, drop constraint %I', base_table, v_progress.id_column, v_check), lock_timeout_ms);
    commit;
  end if;

  -- 5. Journals, registration, triggers: one transaction, under short locks, retried as a whole.
  for attempt in 1 .. 50 loop
    begin
      perform set_config('lock_timeout', lock_timeout_ms || 'ms', true);
      perform set_config('client_min_messages', 'warning', true);  -- not "already exists, skipping" for each step
      perform versioning.enable(base_table, v_progress.id_column, base_table_ttl, delta_sync_table_ttl,
                                exists (select from pg_attribute a where a.attrelid = base_table and a.attname = 'updated_at' and not a.attisdropped));
      perform set_config('lock_timeout', '0', true);
      exit;
    exception when lock_not_available then
      if attempt = 50 then
        raise;
      end if;
      perform pg_sleep(2 * lock_timeout_ms / 1000.0);
    end;
  end loop;
  update versioning.online_enables e set finished_at = now() where e.base_table = enable_online_finish.base_table;
  commit;
end
$$;
