-- Partitioned journals (issue 14). A model's two journals, its delta table (versioning_delta.<table>) and
-- its merge history (versioning_merge.<table>), are RANGE-partitioned by _last_changed_at (ms), so that
-- purge can drop a whole partition once every row in it has expired instead of deleting its rows one by
-- one: no dead tuples for vacuum, and tens of kilobytes of WAL (catalog changes) instead of about the
-- partition's size (docs/benchmarks.md, P7).
--
-- Granularity (versioning.journal_partition_width): the widest of an hour, a day and a week that is at
-- most half the journal's TTL, and an hour below that. The defaults give hourly delta partitions (TTL 30
-- minutes: the live journal spans one or two) and weekly merge-history partitions (horizon 30 days: five
-- or six). A journal then spans 2 to about 50 partitions whatever its TTL (under 2 days: at most 49 hourly;
-- 2 to 14 days: at most 15 daily; a year: 53 weekly), plus those ahead and a default: tens, never
-- thousands. Narrower would mean more partitions for every query that cannot prune them (a merge-history
-- read by id probes each one) and more DDL; wider would leave more of an expired backlog in the partition
-- that straddles the cutoff, which purge still empties row by row.
--
-- Writes never fail for want of a partition: versioning.enable (and this migration) create the ranges
-- from now through at least 6 hours ahead (two partitions when they are wider than 3 hours), the purge
-- (every minute) adds the next ones every run, and each journal has a DEFAULT partition for a row outside
-- every range (a clock far off, a purge that has not run for longer than the span ahead). Not more ahead:
-- every partition is one more for a generic plan to consider and for a session to load the first time.
-- Rows in the default stay there: a range is added only above the last one and only where the default
-- holds no row, so no range ever has to take rows from it (that range's rows simply stay in the default),
-- and purge deletes them row by row when they expire, like the rows of the partition that straddles the
-- cutoff. With ranges kept hours ahead the default is empty in practice; after a long outage it holds the
-- rows written since the ranges ran out until they expire, and each ATTACH of a new range scans it (under
-- its lock) to prove it holds nothing of that range.
--
-- Keys: a partitioned table's unique indexes must include the partition key. Neither journal needs one:
-- a delta row's seq comes from an identity, and the journal trigger writes one history row per version.
-- So the delta table has no primary key, only its two indexes, (_last_changed_at, seq) (a delta sync's
-- window and keyset order, and purge's order) and (id, seq) ("is there a newer change of this id?"); the
-- merge history's primary key (id, _version) becomes a plain index on the same columns (the handlers'
-- "versions of this id after b", packages/versioning/src/history.ts). No ON CONFLICT targets either.
-- Indexes made by versioning.index_journal are created on the parent and so exist on every partition,
-- present and future. (By hand and without blocking writers: CREATE INDEX ... ON ONLY the parent, CREATE
-- INDEX CONCURRENTLY on each partition, ALTER INDEX parent_index ATTACH PARTITION each one.)
--
-- Purge (versioning.purge), per journal: 1. detach each partition whose upper bound is at or below the
-- cutoff the row-wise purge uses (now - TTL; a row goes when _last_changed_at < cutoff, so such a
-- partition holds nothing else), one per transaction, and for a delta table raise delta_purged_through to
-- the partition's newest change in that same transaction (a delta sync trusts the journal only for a
-- lastSync at or after the newest change purge removed, packages/versioning/src/sync.ts); 2. count its
-- rows and drop it, in a transaction of its own; 3. delete row by row, in batches as before, the expired
-- rows of the partition that straddles the cutoff and of the default (and of an expired partition that
-- could not be detached this run); 4. add the partitions ahead. The purge's semantics are unchanged: the
-- same rows go, by the same cutoff, with the same bookkeeping.
-- Steady state, note: purge runs every minute and the cutoff moves on continuously, so each row expires
-- while its partition still straddles the cutoff and goes row by row, as before; a partition is dropped
-- empty. Whole partitions of rows are dropped where purge has fallen behind: a backlog (a purge that did
-- not run for a while, a TTL lowered, a bulk load), which is what used to take hours of DELETEs.
-- Locks: DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the journal until its transaction commits, so
-- nothing slow happens in that transaction (the partition's newest change is read through its index; the
-- count and the DROP, whose commit scans shared_buffers for the dropped files, come after). ATTACH takes
-- SHARE UPDATE EXCLUSIVE on the journal and ACCESS EXCLUSIVE on its default. Each waits at most
-- lock_timeout (20 ms, set on the functions below: alter function ... set lock_timeout to change it) and
-- otherwise gives up until the next run, rather than queue behind a long reader while every writer queues
-- behind it. DETACH ... CONCURRENTLY would avoid the strong lock, but it cannot run inside a transaction
-- block or a function (purge runs in a procedure) and is not allowed on a table with a default partition.
--
-- Conversion (end of this file): each existing journal is renamed aside and becomes one partition,
-- [MINVALUE, bound), of a new partitioned journal under its name; its rows are not copied. If most of its
-- rows have expired (a purge that never ran), the unexpired ones move into the new ranges and the bound is
-- the cutoff's partition boundary, so the next purge drops the whole backlog; otherwise it keeps every row
-- and its bound is the end of the current partition period, and purge empties it as its rows expire and
-- drops it once its bound passes the cutoff. Its indexes become the new journal's where they match (a
-- merge history's (id, _version) index is built on it: its primary key was unique). All of it runs in the
-- migration's one transaction and holds every journal's lock until it commits: writes to versioned tables
-- wait for the conversion (the legacy partition is scanned once to count and once to validate its bound).

-- Widest of hour, day, week that is at most half the TTL (see above); epoch-aligned, so hour and day
-- partitions begin on the UTC hour and day.
create function versioning.journal_partition_width(ttl interval) returns bigint
language sql immutable parallel safe
as $$
  select case when ttl >= interval '14 days' then 7 * 86400000
              when ttl >= interval '2 days' then 86400000
              else 3600000 end::bigint
$$;

-- The purge's cutoff for a TTL: a journal row whose _last_changed_at is below it has expired.
create function versioning.journal_cutoff(ttl interval) returns bigint
language sql stable parallel safe
as $$ select versioning.now_ms() - (extract(epoch from ttl) * 1000)::bigint $$;

-- Every journal of every versioned table, with the TTL its rows are kept for.
create function versioning.journals()
returns table (base_table regclass, journal regclass, kind text, ttl interval)
language sql stable
as $$
  select m.base_table, m.delta_table, 'delta', m.delta_sync_table_ttl
    from versioning.models m join pg_class c on c.oid = m.base_table
  union all
  select m.base_table, versioning.merge_table(m.base_table), 'merge', coalesce(m.merge_horizon, m.base_table_ttl)
    from versioning.models m join pg_class c on c.oid = m.base_table
   where versioning.merge_table(m.base_table) is not null
$$;

-- A journal's partitions and their bounds (null lower: MINVALUE; the default has neither).
create function versioning.journal_partitions(journal regclass)
returns table (partition regclass, lower_bound bigint, upper_bound bigint, is_default boolean)
language sql stable
as $$
  select c.oid::regclass, nullif(b[1], 'MINVALUE')::bigint, nullif(b[2], 'MAXVALUE')::bigint,
         pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    left join lateral regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                   '^FOR VALUES FROM \(''?([^'')]+)''?\) TO \(''?([^'')]+)''?\)$') b on true
   where i.inhparent = journal
$$;
comment on function versioning.journal_partitions(regclass) is
  'datastore-pg: a journal''s partitions with their bounds in ms (lower null: MINVALUE; the default has neither)';

-- <journal>_<YYYYMMDD>_<HH> (UTC) for the range starting at lower_bound; a journal name too long for the
-- suffix (over 48 bytes) is replaced by j<oid>.
create function versioning.journal_partition_name(journal regclass, lower_bound bigint) returns text
language sql stable
as $$
  select format('%I.%I', n.nspname,
                case when octet_length(c.relname) <= 48 then c.relname::text else 'j' || c.oid end
                || '_' || to_char(to_timestamp(lower_bound / 1000.0) at time zone 'UTC', 'YYYYMMDD"_"HH24'))
    from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = journal
$$;

-- One maintainer of a journal's partitions at a time (the pg_cron job, a manual CALL, npm run dev's
-- timer); another finds it taken and leaves the work to the next run.
create function versioning.try_lock_journal(journal regclass) returns boolean
language sql volatile
as $$ select pg_try_advisory_xact_lock(hashtextextended('datastore-pg journal partitions ' || journal::oid, 0)) $$;

-- Creates what a journal lacks: its default partition, and ranges from above the last one (or, for a
-- journal without any, from since, else from the start of the current period; never below the cutoff's
-- period) through at least 6 hours ahead, except where the default holds rows. Returns how many ranges
-- it added. A range is created as a table of its own and then ATTACHed, which locks the journal far less
-- than CREATE TABLE ... PARTITION OF; a lock not granted within the lock_timeout leaves the rest to the
-- next run.
create function versioning.add_journal_partitions(journal regclass, ttl interval, since bigint default null) returns int
language plpgsql
set lock_timeout = '20ms'
as $$
declare
  v_width bigint := versioning.journal_partition_width(ttl);
  v_now bigint := versioning.now_ms();
  v_until bigint := v_now + greatest(6 * 3600000, 2 * versioning.journal_partition_width(ttl));
  v_default regclass;
  v_lower bigint;
  v_upper bigint;
  v_cutoff bigint;
  v_taken boolean;
  v_name text;
  v_added int := 0;
begin
  if not versioning.try_lock_journal(journal) then
    return 0;
  end if;
  select p.partition into v_default from versioning.journal_partitions(journal) p where p.is_default;
  if v_default is null then
    v_name := format('%I.%I', (select n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = journal),
                     (select c.relname from pg_class c where c.oid = journal) || '_default');
    begin
      execute format('create table %s partition of %s default', v_name, journal);
    exception when lock_not_available then
      return 0;
    end;
    v_default := v_name::regclass;
  end if;

  select max(p.upper_bound) into v_lower from versioning.journal_partitions(journal) p;
  v_lower := coalesce(v_lower, since, v_now - v_now % v_width);
  -- Never a range that would be expired at once (after a purge outage, the ranges resume at the cutoff).
  v_cutoff := versioning.journal_cutoff(ttl);
  v_lower := greatest(v_lower, v_cutoff - v_cutoff % v_width);
  while v_lower < v_until loop
    v_upper := v_lower - v_lower % v_width + v_width;
    -- A range the default already has rows of (written while the ranges had run out, or by a clock far
    -- off) is left to the default: its rows stay there until purge deletes them, and no range takes them.
    execute format('select exists (select from %s where _last_changed_at >= $1 and _last_changed_at < $2)', v_default)
      into v_taken using v_lower, v_upper;
    if not v_taken then
      v_name := versioning.journal_partition_name(journal, v_lower);
      begin
        execute format('create table %s (like %s)', v_name, journal);
        execute format('alter table %s attach partition %s for values from (%s) to (%s)', journal, v_name, v_lower, v_upper);
      exception when lock_not_available or check_violation or duplicate_table then
        -- Busy, a row with a stamp in this range reached the default meanwhile, or a detached partition
        -- not dropped yet has the name: the next run.
        return v_added;
      end;
      v_added := v_added + 1;
    end if;
    v_lower := v_upper;
  end loop;
  return v_added;
end
$$;
comment on function versioning.add_journal_partitions(regclass, interval, bigint) is
  'datastore-pg: adds a journal''s default partition if missing and its range partitions through at least 6 hours ahead';

-- The partitioned journals a table gets from versioning.enable and versioning.ensure_merge_table.
create function versioning.create_journal(journal text, kind text) returns regclass
language plpgsql
as $$
declare
  v_name name := (parse_ident(journal))[2];
begin
  if kind = 'delta' then
    execute format($ddl$
      create table %s (
        seq              bigint generated always as identity,
        id               text not null,
        _version         bigint not null,
        _deleted         boolean not null,
        _last_changed_at bigint not null,
        item             jsonb not null
      ) partition by range (_last_changed_at)
    $ddl$, journal);
    -- Delta sync reads a window of changes; purge removes the oldest.
    execute format('create index %I on %s (_last_changed_at, seq)', v_name || '_last_changed_at_idx', journal);
    -- Delta sync returns only the latest version of each item: "is there a newer change of this id?"
    execute format('create index %I on %s (id, seq)', v_name || '_id_seq_idx', journal);
  else
    execute format($ddl$
      create table %s (
        id               text not null,
        _version         bigint not null,
        _last_changed_at bigint not null,
        changed          jsonb not null,  -- previous values of the columns this version changed
        writer           text,            -- the API caller; null for any other writer
        base_version     bigint,          -- the _version the API write was based on
        sent             jsonb            -- the fields the API write sent, as sent
      ) partition by range (_last_changed_at)
    $ddl$, journal);
    -- The handlers read an item's versions after a base; purge removes the oldest changes.
    execute format('create index %I on %s (id, _version)', v_name || '_id_version_idx', journal);
    execute format('create index %I on %s (_last_changed_at)', v_name || '_last_changed_at_idx', journal);
  end if;
  return journal::regclass;
end
$$;

-- As in 000006, partitioned.
create or replace function versioning.ensure_merge_table(base_table regclass) returns regclass
language plpgsql
as $$
declare
  v_name name;
  v_merge_table regclass;
  v_horizon interval;
begin
  select c.relname, coalesce(m.merge_horizon, m.base_table_ttl) into strict v_name, v_horizon
    from versioning.models m join pg_class c on c.oid = m.delta_table
   where m.base_table = ensure_merge_table.base_table;
  if versioning.merge_table(base_table) is not null then
    return versioning.partition_journal(versioning.merge_table(base_table), v_horizon);  -- as it is, if partitioned
  end if;
  v_merge_table := versioning.create_journal(format('versioning_merge.%I', v_name), 'merge');
  execute format('comment on table %s is %L', v_merge_table, format('datastore-pg: merge history of %s', base_table));
  perform versioning.add_journal_partitions(v_merge_table, v_horizon);
  return v_merge_table;
end
$$;

-- As in 000005, with a partitioned delta table.
create or replace function versioning.enable(
  base_table regclass,
  id_column name default null,                -- 'id'
  base_table_ttl interval default null,       -- '30 days'
  delta_sync_table_ttl interval default null, -- '30 minutes'
  timestamps boolean default null             -- true
) returns regclass
language plpgsql
as $$
declare
  v_table name;
  v_id_type regtype;
  v_id_attnum int2;
  v_delta_table regclass;
  v_owner regclass;
  v_registered versioning.models;
begin
  select c.relname into v_table from pg_class c where c.oid = base_table and c.relkind in ('r', 'p');
  if not found then
    raise exception '% is not a table', base_table using errcode = '42809';
  end if;
  select * into v_registered from versioning.models m where m.base_table = enable.base_table;
  id_column := coalesce(id_column, v_registered.id_column, 'id');
  base_table_ttl := coalesce(base_table_ttl, v_registered.base_table_ttl, '30 days');
  delta_sync_table_ttl := coalesce(delta_sync_table_ttl, v_registered.delta_sync_table_ttl, '30 minutes');
  timestamps := coalesce(timestamps, v_registered.timestamps, true);

  execute format($ddl$
    alter table %s
      add column if not exists _version bigint not null default 1,
      add column if not exists _deleted boolean not null default false,
      add column if not exists _last_changed_at bigint not null default versioning.now_ms(),
      add column if not exists _ttl timestamptz
  $ddl$, base_table);
  perform versioning.assert_column_type(base_table, '_version', 'bigint');
  perform versioning.assert_column_type(base_table, '_deleted', 'boolean');
  perform versioning.assert_column_type(base_table, '_last_changed_at', 'bigint');
  perform versioning.assert_column_type(base_table, '_ttl', 'timestamp with time zone');
  if timestamps then
    execute format($ddl$
      alter table %s
        add column if not exists created_at timestamptz not null default now(),
        add column if not exists updated_at timestamptz not null default now()
    $ddl$, base_table);
  end if;

  -- The DataStore id: an existing column (uuid or text) or, for a legacy table keyed otherwise, a new
  -- uuid column filled for every existing row (the _datastore_uuid pattern of shared/seeds/000).
  select a.atttypid, a.attnum into v_id_type, v_id_attnum
  from pg_attribute a where a.attrelid = base_table and a.attname = id_column and not a.attisdropped;
  if not found then
    execute format('alter table %s add column %I uuid not null default gen_random_uuid()', base_table, id_column);
    select a.atttypid, a.attnum into v_id_type, v_id_attnum
    from pg_attribute a where a.attrelid = base_table and a.attname = id_column;
  elsif v_id_type not in ('uuid'::regtype, 'text'::regtype, 'character varying'::regtype) then
    raise exception 'id column %.% is %, but a DataStore id must be uuid or text', v_table, id_column, v_id_type
      using errcode = '42804';
  end if;
  execute format('alter table %s alter column %I set not null', base_table, id_column);
  if not exists (
    select from pg_index i
    where i.indrelid = base_table and i.indisunique and i.indpred is null
      and i.indnatts = 1 and i.indkey[0] = v_id_attnum
  ) then
    execute format('create unique index %I on %s (%I)', v_table || '_' || id_column || '_key', base_table, id_column);
  end if;

  -- Incremental base sync reads rows changed since a client's lastSync; purge finds expired tombstones.
  execute format('create index if not exists %I on %s (_last_changed_at, %I)',
                 v_table || '_last_changed_at_idx', base_table, id_column);
  execute format('create index if not exists %I on %s (_ttl) where _deleted',
                 v_table || '_tombstone_ttl_idx', base_table);

  select m.base_table into v_owner from versioning.models m
  where m.delta_table = to_regclass(format('versioning_delta.%I', v_table));
  if v_owner is not null and v_owner <> base_table then
    raise exception 'delta table versioning_delta.% already journals %', v_table, v_owner using errcode = '42P07';
  end if;
  v_delta_table := to_regclass(format('versioning_delta.%I', v_table));
  if v_delta_table is null then
    v_delta_table := versioning.create_journal(format('versioning_delta.%I', v_table), 'delta');
  else
    v_delta_table := versioning.partition_journal(v_delta_table, delta_sync_table_ttl);  -- as it is, if partitioned
  end if;
  execute format('comment on table %s is %L', v_delta_table, format('datastore-pg: change journal of %s', base_table));
  perform versioning.add_journal_partitions(v_delta_table, delta_sync_table_ttl);

  -- Installs the row triggers (versioning.tg_models_changed), and the merge history with them.
  insert into versioning.models as m (base_table, id_column, delta_table, base_table_ttl, delta_sync_table_ttl, timestamps)
  values (base_table, id_column, v_delta_table, base_table_ttl, delta_sync_table_ttl, timestamps)
  on conflict on constraint models_pkey do update
    set id_column = excluded.id_column,
        base_table_ttl = excluded.base_table_ttl,
        delta_sync_table_ttl = excluded.delta_sync_table_ttl,
        timestamps = excluded.timestamps;

  execute format('create or replace trigger _100_tombstone_hard_delete before delete on %s
                  for each row execute function versioning.tg_tombstone_hard_delete()', base_table);
  execute format('create or replace trigger _100_forbid_truncate before truncate on %s
                  for each statement execute function versioning.tg_forbid_truncate()', base_table);
  perform versioning.grant_runtime(base_table);
  return v_delta_table;
end
$$;

-- Deletes at most batch_size rows older than cutoff from a journal, oldest partition first and the
-- default last, each partition by its own ctids (a ctid names a row only within one partition); returns
-- how many and the newest _last_changed_at among them. Only partitions that can hold such rows are read:
-- the one straddling the cutoff, the default, and an expired one not detached yet.
create function versioning.purge_journal_rows(journal regclass, cutoff bigint, batch_size int, out deleted int, out through bigint)
language plpgsql
as $$
declare
  v_leaf regclass;
  v_deleted int;
  v_through bigint;
begin
  deleted := 0;
  for v_leaf in
    select p.partition from versioning.journal_partitions(journal) p
     where p.is_default or p.lower_bound is null or p.lower_bound < cutoff
     order by p.is_default, p.lower_bound nulls first
  loop
    execute format($q$
      with purged as (
        delete from %1$s where ctid = any(array(
          select j.ctid from %1$s j where j._last_changed_at < $2 order by j._last_changed_at limit $1))
        returning _last_changed_at)
      select count(*)::int, max(_last_changed_at) from purged
    $q$, v_leaf)
    into v_deleted, v_through
    using batch_size - deleted, cutoff;
    deleted := deleted + v_deleted;
    through := greatest(through, v_through);
    exit when deleted >= batch_size;
  end loop;
end
$$;

-- As in 000005: deletes at most batch_size journal rows older than the table's DeltaSyncTableTTL and
-- records the newest it removed; returns how many. Row by row: versioning.purge detaches whole expired
-- partitions first, so this is left the partition straddling the cutoff and the default.
create or replace function versioning.purge_delta(base_table regclass, batch_size int) returns int
language plpgsql
as $$
declare
  v_delta_table regclass;
  v_cutoff bigint;
  v_deleted int;
  v_through bigint;
begin
  select m.delta_table, versioning.journal_cutoff(m.delta_sync_table_ttl) into strict v_delta_table, v_cutoff
    from versioning.models m where m.base_table = purge_delta.base_table;
  select p.deleted, p.through into v_deleted, v_through from versioning.purge_journal_rows(v_delta_table, v_cutoff, batch_size) p;
  if v_through is not null then
    update versioning.models m set delta_purged_through = greatest(m.delta_purged_through, v_through)
     where m.base_table = purge_delta.base_table;
  end if;
  return v_deleted;
end
$$;

-- As in 000006, row by row like purge_delta.
create or replace function versioning.purge_merge(base_table regclass, batch_size int) returns int
language plpgsql
as $$
declare
  v_merge_table regclass;
  v_cutoff bigint;
begin
  select versioning.merge_table(m.base_table), versioning.journal_cutoff(coalesce(m.merge_horizon, m.base_table_ttl))
    into strict v_merge_table, v_cutoff
    from versioning.models m where m.base_table = purge_merge.base_table;
  return (select p.deleted from versioning.purge_journal_rows(v_merge_table, v_cutoff, batch_size) p);
end
$$;

-- How a partition detached by versioning.detach_expired_partition is marked for its DROP.
create function versioning.detached_marker(journal regclass) returns text
language sql stable
as $$ select format('datastore-pg: expired partition of %s, detached; versioning.purge drops it', journal) $$;

-- Detaches the oldest partition of a table's journal (kind 'delta' or 'merge') whose every row has
-- expired, and returns it; null when there is none, or when the journal's lock was not granted within the
-- lock_timeout (the next run tries again). For a delta table it raises delta_purged_through to the
-- partition's newest change in the same transaction (read through its index, under the lock, so no row
-- can slip in between). The caller commits right after: DETACH holds the journal's ACCESS EXCLUSIVE lock
-- until then, so nothing slow happens in this transaction (the count and the DROP come after, in
-- versioning.drop_detached_partitions, when the partition is no longer part of the journal).
create function versioning.detach_expired_partition(base_table regclass, kind text) returns regclass
language plpgsql
set lock_timeout = '20ms'
as $$
declare
  v_journal regclass;
  v_cutoff bigint;
  v_partition regclass;
  v_through bigint;
begin
  select j.journal, versioning.journal_cutoff(j.ttl) into v_journal, v_cutoff
    from versioning.journals() j where j.base_table = detach_expired_partition.base_table and j.kind = detach_expired_partition.kind;
  if v_journal is null or not versioning.try_lock_journal(v_journal) then
    return null;
  end if;
  -- Every row below the upper bound, and so below the cutoff: exactly rows purge_delta would delete.
  select p.partition into v_partition from versioning.journal_partitions(v_journal) p
   where p.upper_bound <= v_cutoff order by p.upper_bound limit 1;
  if v_partition is null then
    return null;
  end if;
  begin
    execute format('alter table %s detach partition %s', v_journal, v_partition);
    if kind = 'delta' then
      execute format('select max(_last_changed_at) from %s', v_partition) into v_through;
      if v_through is not null then
        update versioning.models m set delta_purged_through = greatest(m.delta_purged_through, v_through)
         where m.base_table = detach_expired_partition.base_table;
      end if;
    end if;
    execute format('comment on table %s is %L', v_partition, versioning.detached_marker(v_journal));
  exception when lock_not_available then
    return null;
  end;
  return v_partition;
end
$$;

-- Drops what versioning.detach_expired_partition detached from a journal (also what a crash left between
-- the two steps), counting the rows first; returns how many partitions and rows. They are no longer part
-- of the journal: this locks nothing a writer or reader of it needs.
create function versioning.drop_detached_partitions(journal regclass, out partitions int, out rows bigint)
language plpgsql
set lock_timeout = '20ms'
as $$
declare
  v_table regclass;
  v_rows bigint;
begin
  partitions := 0;
  rows := 0;
  for v_table in
    select c.oid::regclass from pg_class c
     where c.relnamespace = (select r.relnamespace from pg_class r where r.oid = journal)
       and c.relkind = 'r' and not c.relispartition
       and obj_description(c.oid, 'pg_class') = versioning.detached_marker(journal)
  loop
    begin
      execute format('select count(*) from %s', v_table) into v_rows;
      execute format('drop table %s', v_table);
      partitions := partitions + 1;
      rows := rows + v_rows;
    exception when lock_not_available then
      null;  -- a query that began before the DETACH still reads it: the next run
    end;
  end loop;
end
$$;

-- As in 000006, with whole partitions detached and dropped before the row-by-row batches, partitions
-- added ahead after them, and how many partitions went. A partition with rows counts as one batch
-- towards max_batches.
drop procedure versioning.purge(int, int, bigint, bigint, bigint, bigint);
create procedure versioning.purge(
  batch_size int default 1000,
  max_batches int default 200,
  inout tombstones_purged bigint default 0,
  inout delta_rows_purged bigint default 0,
  inout merge_rows_purged bigint default 0,
  inout conflicts_purged bigint default 0,
  inout partitions_dropped bigint default 0
)
language plpgsql
as $$
declare
  v_base_table regclass;
  v_kind text;
  v_batches int := 0;
  v_deleted int;
  v_journal record;
  v_detached regclass;
  v_dropped record;
begin
  if batch_size < 1 or max_batches < 1 then
    raise exception 'batch_size and max_batches must be positive' using errcode = '22023';
  end if;
  -- Skips registry rows whose table was dropped.
  for v_base_table in
    select m.base_table from versioning.models m join pg_class c on c.oid = m.base_table order by m.base_table::text
  loop
    foreach v_kind in array array['tombstones', 'delta', 'merge'] loop
      if v_kind <> 'tombstones' then
        select j.journal, j.ttl into v_journal from versioning.journals() j where j.base_table = v_base_table and j.kind = v_kind;
        loop
          exit when v_batches >= max_batches or v_journal.journal is null;
          v_detached := versioning.detach_expired_partition(v_base_table, v_kind);
          commit;
          select d.partitions, d.rows into v_dropped from versioning.drop_detached_partitions(v_journal.journal) d;
          commit;
          partitions_dropped := partitions_dropped + v_dropped.partitions;
          if v_kind = 'delta' then
            delta_rows_purged := delta_rows_purged + v_dropped.rows;
          else
            merge_rows_purged := merge_rows_purged + v_dropped.rows;
          end if;
          v_batches := v_batches + sign(v_dropped.rows)::int;
          exit when v_detached is null;
        end loop;
      end if;
      loop
        exit when v_batches >= max_batches;
        case v_kind
          when 'tombstones' then
            v_deleted := versioning.purge_tombstones(v_base_table, batch_size);
            tombstones_purged := tombstones_purged + v_deleted;
          when 'delta' then
            v_deleted := versioning.purge_delta(v_base_table, batch_size);
            delta_rows_purged := delta_rows_purged + v_deleted;
          else
            v_deleted := versioning.purge_merge(v_base_table, batch_size);
            merge_rows_purged := merge_rows_purged + v_deleted;
        end case;
        commit;
        v_batches := v_batches + sign(v_deleted);
        exit when v_deleted < batch_size;
      end loop;
      if v_kind <> 'tombstones' then
        -- Whatever the batches left to do: writes need the ranges ahead.
        if v_journal.journal is not null then
          perform versioning.add_journal_partitions(v_journal.journal, v_journal.ttl);
        end if;
        commit;
      end if;
    end loop;
  end loop;
  loop
    exit when v_batches >= max_batches;
    v_deleted := versioning.purge_conflicts(batch_size);
    conflicts_purged := conflicts_purged + v_deleted;
    commit;
    v_batches := v_batches + sign(v_deleted);
    exit when v_deleted < batch_size;
  end loop;
end
$$;

-- Turns an existing, unpartitioned journal into a partitioned one under the same name, keeping every
-- row (see the top of this file); returns the new journal. Does nothing to a journal already partitioned.
create function versioning.partition_journal(journal regclass, ttl interval) returns regclass
language plpgsql
as $$
declare
  v_schema name;
  v_name name;
  v_acl aclitem[];
  v_comment text;
  v_kind text;
  v_legacy name;
  v_parent regclass;
  v_width bigint := versioning.journal_partition_width(ttl);
  v_floor bigint := versioning.journal_cutoff(ttl);
  v_bound bigint;
  v_now bigint := versioning.now_ms();
  v_expired bigint;
  v_live bigint;
  v_index record;
  v_indexes text[] := '{}';
  v_index_names name[] := '{}';
  v_sequence text;
  v_next bigint;
  v_columns text;
  v_grant record;
begin
  select n.nspname, c.relname, c.relacl, obj_description(c.oid, 'pg_class')
    into v_schema, v_name, v_acl, v_comment
    from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = journal and c.relkind = 'r';
  if not found then
    return journal;
  end if;
  v_kind := case v_schema when 'versioning_delta' then 'delta' when 'versioning_merge' then 'merge' end;
  if v_kind is null then
    raise exception '% is not a journal', journal using errcode = '42809';
  end if;
  v_floor := v_floor - v_floor % v_width;  -- the partition boundary at or below the purge's cutoff
  execute format('select count(*) filter (where _last_changed_at < $1), count(*) filter (where _last_changed_at >= $1) from %s', journal)
    into v_expired, v_live using v_floor;
  -- Mostly expired (a purge that never ran): the live rows move, the rest is dropped whole by the next
  -- purge. Otherwise nothing moves but rows stamped after the current period (a clock that was ahead).
  v_bound := case when v_live < v_expired then v_floor else v_now - v_now % v_width + v_width end;

  -- 1. The old table steps aside with its indexes, whose names (and definitions) the new journal takes.
  for v_index in
    select c.relname, pg_get_indexdef(i.indexrelid) as def, i.indisprimary
      from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = journal
  loop
    if not v_index.indisprimary then
      v_indexes := v_indexes || v_index.def;
      v_index_names := v_index_names || v_index.relname;
    end if;
    execute format('alter index %I.%I rename to %I', v_schema, v_index.relname, left(v_index.relname, 56) || '_legacy');
  end loop;
  v_legacy := left(v_name, 56) || '_legacy';
  execute format('alter table %s rename to %I', journal, v_legacy);

  -- 2. The new journal, its default and ranges from the bound on, and the rows that move.
  v_parent := versioning.create_journal(format('%I.%I', v_schema, v_name), v_kind);
  if v_comment is not null then
    execute format('comment on table %s is %L', v_parent, v_comment);
  end if;
  for v_grant in select a.grantee, a.privilege_type, a.is_grantable from aclexplode(v_acl) a
                  where a.grantee <> (select c.relowner from pg_class c where c.oid = journal)
  loop
    execute format('grant %s on %s to %s %s', v_grant.privilege_type, v_parent,
                   case when v_grant.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(v_grant.grantee)) end,
                   case when v_grant.is_grantable then 'with grant option' else '' end);
  end loop;
  if v_kind = 'delta' then
    -- New changes number on from the old journal's sequence, so that seq keeps ordering an item's versions.
    v_sequence := pg_get_serial_sequence(journal::text, 'seq');
    execute format('select greatest(case when s.is_called then s.last_value + 1 else s.last_value end,
                                     (select coalesce(max(seq), 0) + 1 from %s)) from %s s', journal, v_sequence)
      into v_next;
    execute format('alter table %s alter column seq restart with %s', v_parent, v_next);
    execute format('alter table %s alter column seq drop identity', journal);
    update versioning.models m set delta_table = v_parent where m.delta_table = journal;  -- regenerates the trigger functions
  end if;
  if v_expired + v_live = 0 then
    -- Nothing to keep: the new journal starts clean.
    execute format('drop table %s', journal);
    perform versioning.add_journal_partitions(v_parent, ttl);
  else
    perform versioning.add_journal_partitions(v_parent, ttl, since => v_bound);
    select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into v_columns
      from pg_attribute a where a.attrelid = v_parent and a.attnum > 0 and not a.attisdropped;
    execute format('insert into %s (%s) overriding system value select %s from %s where _last_changed_at >= $1',
                   v_parent, v_columns, v_columns, journal) using v_bound;
    execute format('delete from %s where _last_changed_at >= $1', journal) using v_bound;
    -- 3. The old table becomes the partition below the bound; its indexes serve where they match.
    execute format('alter table %s attach partition %s for values from (minvalue) to (%s)', v_parent, journal, v_bound);
    execute format('comment on table %s is %L', journal,
                   format('datastore-pg: rows of %s from before it was partitioned (migration 000012)', v_parent));
    for v_index in select con.conname from pg_constraint con where con.conrelid = journal and con.contype = 'p' loop
      execute format('alter table %s drop constraint %I', journal, v_index.conname);
    end loop;
  end if;
  -- 4. The old table's other indexes (versioning.index_journal's, or made by hand), now on every partition.
  for i in 1 .. coalesce(array_length(v_indexes, 1), 0) loop
    if to_regclass(format('%I.%I', v_schema, v_index_names[i])) is null then
      execute v_indexes[i];
    end if;
  end loop;
  return v_parent;
end
$$;

-- Every journal of a database in use. Merge histories first: versioning.merge_table finds one by its
-- delta table's name, which a delta table's conversion changes for a moment.
do $$
declare
  v_journals regclass[];
  v_ttls interval[];
  v_base_table regclass;
begin
  select array_agg(j.journal order by j.kind desc, j.journal::text), array_agg(j.ttl order by j.kind desc, j.journal::text)
    into v_journals, v_ttls from versioning.journals() j;
  for i in 1 .. coalesce(array_length(v_journals, 1), 0) loop
    perform versioning.partition_journal(v_journals[i], v_ttls[i]);
  end loop;
  for v_base_table in select m.base_table from versioning.models m join pg_class c on c.oid = m.base_table loop
    perform versioning.grant_runtime(v_base_table);
  end loop;
end
$$;
