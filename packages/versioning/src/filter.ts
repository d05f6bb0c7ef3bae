// Selective sync and conditions: a ModelXFilterInput / ModelXConditionInput becomes a parameterized SQL
// predicate over alias t. Field names are looked up in the model (never used as SQL), operators come
// from a fixed table, every operand is checked against its field's type and bound as a parameter.
import type { FieldMeta } from '@datastore-pg/schema/models';
import { invalid } from './errors';
import { columnOf, type ModelRuntime } from './runtime';
import { bind, joinFragments, journalKey, type Fragment } from './sql-values';
import { inputValue, scalarValue } from './values';

/** Limits that keep a filter from becoming a denial of service. */
const MAX_FILTER_DEPTH = 8;
const MAX_FILTER_CONDITIONS = 100;

/** Amplify's filter inputs for DataStore-enabled models also take _deleted. */
const DELETED: FieldMeta = { name: '_deleted', column: '_deleted', type: { kind: 'scalar', name: 'Boolean' }, required: false, list: false, readOnly: false };

const STRING_TYPES = new Set(['ID', 'String', 'AWSEmail', 'AWSURL', 'AWSPhone', 'AWSIPAddress', 'AWSDate', 'AWSTime', 'AWSDateTime']);

export function compileFilter(runtime: ModelRuntime, filter: unknown): Fragment {
  const { sql } = runtime;
  if (filter === null || filter === undefined) return sql`true`;
  const budget = { conditions: 0 };
  return compileGroup(runtime, filter, 1, budget);
}

function compileGroup(runtime: ModelRuntime, filter: unknown, depth: number, budget: { conditions: number }): Fragment {
  const { sql } = runtime;
  if (depth > MAX_FILTER_DEPTH) throw invalid(`filter is nested deeper than ${MAX_FILTER_DEPTH} levels`);
  if (!isObject(filter)) throw invalid('filter must be an object');
  const parts: Fragment[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === 'and' || key === 'or') {
      if (!Array.isArray(value) || value.length === 0) throw invalid(`filter.${key} must be a non-empty list`);
      const groups = value.map((v) => compileGroup(runtime, v, depth + 1, budget));
      parts.push(sql`(${joinFragments(sql, groups, key === 'and' ? sql`and` : sql`or`, sql`true`)})`);
    } else if (key === 'not') {
      parts.push(sql`not coalesce((${compileGroup(runtime, value, depth + 1, budget)}), false)`);
    } else {
      const field = key === DELETED.name ? DELETED : runtime.fields.get(key);
      if (!field) throw invalid(`filter names an unknown field`);
      if (!isObject(value)) throw invalid(`filter.${key} must be an object of operators`);
      for (const [op, operand] of Object.entries(value)) {
        if (++budget.conditions > MAX_FILTER_CONDITIONS) throw invalid(`filter has more than ${MAX_FILTER_CONDITIONS} conditions`);
        parts.push(compileCondition(runtime, field, op, operand));
      }
    }
  }
  return joinFragments(sql, parts, sql`and`, sql`true`);
}

function compileCondition(runtime: ModelRuntime, field: FieldMeta, op: string, operand: unknown): Fragment {
  const { sql } = runtime;
  const column = columnOf(runtime, field);
  const col = sql`t.${sql(field.column)}`;
  const element = { ...field, list: false, required: false };
  const value = (v: unknown) => {
    if (v === null || v === undefined) throw invalid(`filter.${field.name}.${op} needs a value`);
    return bind(sql, { ...column, isArray: false }, scalarValue(element, column, v));
  };
  const textual = field.type.kind === 'enum' || STRING_TYPES.has(field.type.name);
  switch (op) {
    case 'eq':
      if (operand === null) return sql`${col} is null`;
      return field.list ? sql`${col} = ${bind(sql, column, listOperand(runtime, field, operand))}` : sql`${col} = ${value(operand)}`;
    case 'ne':
      if (operand === null) return sql`${col} is not null`;
      return field.list ? sql`${col} is distinct from ${bind(sql, column, listOperand(runtime, field, operand))}` : sql`${col} is distinct from ${value(operand)}`;
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le': {
      if (field.list || field.type.kind === 'enum' || field.type.name === 'Boolean') throw unsupported(field, op);
      const operator = { gt: sql`>`, ge: sql`>=`, lt: sql`<`, le: sql`<=` }[op];
      return sql`${col} ${operator} ${value(operand)}`;
    }
    case 'between': {
      if (field.list || field.type.kind === 'enum' || field.type.name === 'Boolean') throw unsupported(field, op);
      if (!Array.isArray(operand) || operand.length !== 2) throw invalid(`filter.${field.name}.between needs [low, high]`);
      return sql`${col} between ${value(operand[0])} and ${value(operand[1])}`;
    }
    case 'beginsWith':
      if (field.list || !textual) throw unsupported(field, op);
      return sql`starts_with(${col}::text, ${stringOperand(field, op, operand)})`;
    case 'contains':
    case 'notContains': {
      let test: Fragment;
      if (field.list) test = sql`${value(operand)} = any(${col})`;
      else if (textual) test = sql`strpos(${col}::text, ${stringOperand(field, op, operand)}) > 0`;
      else throw unsupported(field, op);
      return op === 'contains' ? sql`coalesce(${test}, false)` : sql`not coalesce(${test}, false)`;
    }
    case 'attributeExists':
      if (typeof operand !== 'boolean') throw invalid(`filter.${field.name}.attributeExists must be true or false`);
      return operand ? sql`${col} is not null` : sql`${col} is null`;
    default:
      throw unsupported(field, op);
  }
}

/**
 * The equalities every row a filter admits satisfies, on columns whose value a journal row's image
 * (to_jsonb of the row, alias d) holds as exactly the column's text: the filter's `eq` conditions at its
 * top level and under `and`, on a text, varchar, uuid or enum column. As predicates on `d.item ->> column`,
 * so that a delta sync reads a selective-sync device's changes through a journal index
 * (versioning.index_journal) instead of every change in the window. Each is implied by the filter, which
 * still applies: leaving one out never changes the answer, only how much of the journal is read.
 */
export function journalEqualities(runtime: ModelRuntime, filter: unknown): Fragment[] {
  const { sql } = runtime;
  if (!isObject(filter)) return [];
  const found: Fragment[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === 'and' && Array.isArray(value)) {
      for (const group of value) found.push(...journalEqualities(runtime, group));
      continue;
    }
    const field = runtime.fields.get(key);
    const operand = isObject(value) ? value.eq : undefined;
    if (!field || field.list || operand === null || operand === undefined) continue;
    const column = columnOf(runtime, field);
    if (column.isArray || !(field.type.kind === 'enum' || JOURNAL_TEXT_TYPES.has(column.type))) continue;
    // Cast to the column's type first: a uuid in capitals must compare as the image holds it.
    const typed = bind(sql, column, scalarValue({ ...field, required: false }, column, operand));
    found.push(sql`${journalKey(sql, field.column)} = (${typed})::${sql.unsafe(column.sqlType)}::text`);
  }
  return found;
}

/** Column types whose jsonb image is the column's text, character for character. */
const JOURNAL_TEXT_TYPES = new Set(['text', 'varchar', 'uuid']);

/** A whole list to compare a list field with: checked like a list written to the field (length too). */
function listOperand(runtime: ModelRuntime, field: FieldMeta, operand: unknown): unknown {
  if (!Array.isArray(operand)) throw invalid(`filter.${field.name} compares with a list`);
  return inputValue({ ...field, required: false }, columnOf(runtime, field), operand);
}

function stringOperand(field: FieldMeta, op: string, operand: unknown): string {
  if (typeof operand !== 'string' || operand.length > 1000) throw invalid(`filter.${field.name}.${op} needs a string`);
  return operand;
}

function unsupported(field: FieldMeta, op: string) {
  return invalid(`filter operator ${JSON.stringify(op).slice(0, 40)} is not supported on ${field.name}`);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
