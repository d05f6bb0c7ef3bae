-- Per-device journal reads. A delta sync under an owner rule, or with a selective-sync filter on a field
-- (siteID eq ...), wants one device's changes out of a window that holds every device's. The handler
-- reads the journal through the row image's own key as well (d.item ->> 'owner' = ..., implied by the
-- rule or filter, so the answer is the same), and an expression index on that key and the journal's
-- order answers it by reading only those changes. versioning.index_journal creates one:
--   select versioning.index_journal('work_orders', 'owner');
-- for a model's owner field, and for a field devices filter their selective sync on. A journal holds the
-- delta TTL's changes (30 minutes by default): building the index locks its writers briefly; on a busy
-- table, create the same index CONCURRENTLY by hand instead (the name and expression below).
create function versioning.index_journal(base_table regclass, column_name name) returns regclass
language plpgsql
as $$
declare
  v_delta_table regclass;
  v_type regtype;
  v_is_enum boolean;
  v_index name;
begin
  select m.delta_table into v_delta_table from versioning.models m where m.base_table = index_journal.base_table;
  if v_delta_table is null then
    raise exception '% is not versioned', base_table using errcode = '42P01', hint = 'select versioning.enable(...) first';
  end if;
  select a.atttypid::regtype, t.typtype = 'e' into v_type, v_is_enum
    from pg_attribute a join pg_type t on t.oid = a.atttypid
   where a.attrelid = base_table and a.attname = column_name and a.attnum > 0 and not a.attisdropped;
  if v_type is null then
    raise exception 'column %.% does not exist', base_table, column_name using errcode = '42703';
  end if;
  -- The handler compares the image's text with the value as the column's text: exact for these types only.
  if not (v_is_enum or v_type in ('text'::regtype, 'character varying'::regtype, 'uuid'::regtype)) then
    raise exception 'column %.% is %: a journal key must be text, varchar, uuid or an enum', base_table, column_name, v_type
      using errcode = '42804';
  end if;
  select c.relname || '_' || column_name || '_key_idx' into v_index from pg_class c where c.oid = v_delta_table;
  execute format('create index if not exists %I on %s ((item ->> %L), _last_changed_at, seq)', v_index, v_delta_table, column_name);
  return format('versioning_delta.%I', v_index)::regclass;
end
$$;
comment on function versioning.index_journal(regclass, name) is
  'datastore-pg: indexes a versioned table''s journal on a column of its row images, for delta syncs of one owner or one selective-sync value';
revoke execute on function versioning.index_journal(regclass, name) from public;  -- operators and migrations only

-- The example domain: technicians own their work orders and work logs.
select versioning.index_journal('work_orders', 'owner');
select versioning.index_journal('work_logs', 'owner');
