-- Purge: removes expired tombstones from base tables and expired changes from delta tables, in bounded
-- batches so that no lock outlives one small batch. pg_cron runs it every minute where the extension is
-- loaded (RDS: parameter group with shared_preload_libraries = pg_cron); elsewhere `npm run dev` calls it
-- on a timer, and anyone can: `call versioning.purge();`.

-- A predicate over alias t that holds when no foreign key still points at the row. A tombstone that a
-- live (or not yet purged) child references stays until the child goes: deleting it would fail the
-- whole batch, and a failing batch at the head of the queue would stall the purge for good.
create function versioning.unreferenced_predicate(base_table regclass) returns text
language sql stable
as $$
  select coalesce(string_agg(format(
           'not exists (select from %s c where %s)',
           con.conrelid::regclass,
           (select string_agg(format('c.%I = t.%I', ca.attname, pa.attname), ' and ')
              from unnest(con.conkey, con.confkey) as k(child_attnum, parent_attnum)
              join pg_attribute ca on ca.attrelid = con.conrelid and ca.attnum = k.child_attnum
              join pg_attribute pa on pa.attrelid = con.confrelid and pa.attnum = k.parent_attnum)),
         ' and '), 'true')
  from pg_constraint con
  where con.contype = 'f' and con.confrelid = base_table
$$;

-- Deletes at most batch_size expired tombstones of one table; returns how many it deleted.
create function versioning.purge_tombstones(base_table regclass, batch_size int) returns int
language plpgsql
as $$
declare
  v_deleted int;
begin
  -- The hard-delete trigger lets these through: they are tombstones whose _ttl has passed.
  execute format($q$
    delete from %1$s where ctid = any(array(
      select t.ctid from %1$s t
      where t._deleted and t._ttl <= now() and %2$s
      order by t._ttl
      limit $1
      for update skip locked))
  $q$, base_table, versioning.unreferenced_predicate(base_table))
  using batch_size;
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;

-- Deletes at most batch_size expired changes from one table's delta table; returns how many.
create function versioning.purge_delta(base_table regclass, batch_size int) returns int
language plpgsql
as $$
declare
  v_delta_table regclass;
  v_deleted int;
begin
  select m.delta_table into strict v_delta_table from versioning.models m where m.base_table = purge_delta.base_table;
  execute format($q$
    delete from %1$s where seq = any(array(
      select d.seq from %1$s d where d._ttl <= now() order by d._ttl limit $1))
  $q$, v_delta_table)
  using batch_size;
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;

-- Purges every versioned table, committing after each batch. At most max_batches batches that delete
-- something run in one call, so a backlog is worked off over several runs instead of one long one. Must be CALLed outside an
-- explicit transaction block (it commits).
create procedure versioning.purge(
  batch_size int default 1000,
  max_batches int default 200,
  inout tombstones_purged bigint default 0,
  inout delta_rows_purged bigint default 0
)
language plpgsql
as $$
declare
  v_base_table regclass;
  v_kind text;
  v_batches int := 0;
  v_deleted int;
begin
  if batch_size < 1 or max_batches < 1 then
    raise exception 'batch_size and max_batches must be positive' using errcode = '22023';
  end if;
  -- Skips registry rows whose table was dropped.
  for v_base_table in
    select m.base_table from versioning.models m join pg_class c on c.oid = m.base_table order by m.base_table::text
  loop
    foreach v_kind in array array['tombstones', 'delta'] loop
      loop
        exit when v_batches >= max_batches;
        if v_kind = 'tombstones' then
          v_deleted := versioning.purge_tombstones(v_base_table, batch_size);
          tombstones_purged := tombstones_purged + v_deleted;
        else
          v_deleted := versioning.purge_delta(v_base_table, batch_size);
          delta_rows_purged := delta_rows_purged + v_deleted;
        end if;
        commit;
        v_batches := v_batches + sign(v_deleted);
        exit when v_deleted < batch_size;
      end loop;
    end loop;
  end loop;
end
$$;

-- Schedule the purge with pg_cron when this database is the one pg_cron serves. The extension can only
-- be created in the database named by cron.database_name; anywhere else, say what to do instead.
do $$
declare
  v_cron_database text;
begin
  begin
    v_cron_database := current_setting('cron.database_name', true);
  exception when insufficient_privilege then
    -- Only superusers and members of pg_read_all_settings may read pg_cron's settings.
    raise notice 'cannot read cron.database_name (grant pg_read_all_settings to the migration role): purge not scheduled. Schedule "call versioning.purge()" every minute with pg_cron yourself.';
    return;
  end;
  if v_cron_database is null then
    raise notice 'pg_cron is not loaded: purge not scheduled. Run "call versioning.purge()" every minute (npm run dev does).';
  elsif v_cron_database <> current_database() then
    raise notice 'pg_cron serves database %, not %: purge not scheduled. From %, run: select cron.schedule_in_database(''datastore-pg-purge'', ''* * * * *'', ''call versioning.purge()'', %L);',
      v_cron_database, current_database(), v_cron_database, current_database();
  else
    create extension if not exists pg_cron;
    -- Scheduling under an existing name replaces that job, so re-running this is harmless.
    perform cron.schedule('datastore-pg-purge', '* * * * *', 'call versioning.purge()');
  end if;
end
$$;
