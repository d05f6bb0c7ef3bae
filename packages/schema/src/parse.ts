import {
  Kind,
  parse,
  type DirectiveNode as ConstDirectiveNode,
  type ValueNode as ConstValueNode,
  type DocumentNode,
  type EnumTypeDefinitionNode,
  type FieldDefinitionNode,
  type ObjectTypeDefinitionNode,
  type TypeNode,
} from 'graphql';
import { SCALARS, type AuthRule, type ConflictHandler, type DefaultValue, type FieldConflictPolicy, type FieldMeta, type FieldType, type ModelMeta, type RelationMeta, type ScalarName } from './model';
import { pluralName, snakeCase } from './naming';
import { stringScalarFormats } from './scalar-formats';

/** A schema this project cannot serve, with the type and field it is about. */
export class SchemaError extends Error {
  override name = 'SchemaError';
}

const MODEL_DIRECTIVES = new Set(['model', 'auth', 'conflict', 'refersTo']);
const FIELD_DIRECTIVES = new Set(['refersTo', 'belongsTo', 'hasMany', 'hasOne']);
const CONFLICT_HANDLERS: readonly ConflictHandler[] = ['MERGE', 'OPTIMISTIC_CONCURRENCY', 'AUTOMERGE', 'CUSTOM'];
const FIELD_CONFLICT_POLICIES: readonly FieldConflictPolicy[] = ['LATEST_WRITE_WINS', 'FIRST_WRITE_WINS'];

/** Parses the @model dialect of schema.graphql into one ModelMeta per @model type. */
export function parseModels(source: string): ModelMeta[] {
  const document = parse(source);
  const enums = new Map(enumDefinitions(document).map((e) => [e.name.value, e.values?.map((v) => v.name.value) ?? []]));
  const types = document.definitions.filter((d): d is ObjectTypeDefinitionNode => d.kind === Kind.OBJECT_TYPE_DEFINITION);
  const modelNames = new Set(types.filter((t) => directive(t.directives, 'model')).map((t) => t.name.value));
  const models = types.filter((t) => modelNames.has(t.name.value)).map((type) => parseModel(type, enums, modelNames));
  // DataStore selects { id _deleted } of every belongsTo (amplify-js datastore/src/sync/utils.ts,
  // getConnectionFields): each such relation learns where its target lives.
  for (const model of models) {
    for (const relation of model.relations) {
      if (relation.kind !== 'belongsTo') continue;
      const target = models.find((m) => m.name === relation.model)!;
      if (relation.references.length !== 1) throw new SchemaError(`${model.name}.${relation.name}: a belongsTo references exactly one field`);
      relation.target = { table: target.table, idColumn: target.fields.find((f) => f.name === 'id')!.column };
    }
  }
  return models;
}

function enumDefinitions(document: DocumentNode): EnumTypeDefinitionNode[] {
  return document.definitions.filter((d): d is EnumTypeDefinitionNode => d.kind === Kind.ENUM_TYPE_DEFINITION);
}

function parseModel(type: ObjectTypeDefinitionNode, enums: Map<string, string[]>, modelNames: Set<string>): ModelMeta {
  const name = type.name.value;
  const seen = new Set<string>();
  for (const d of type.directives ?? []) {
    if (!MODEL_DIRECTIVES.has(d.name.value)) throw new SchemaError(`${name}: directive @${d.name.value} is not supported`);
    if (seen.has(d.name.value)) throw new SchemaError(`${name}: directive @${d.name.value} appears twice`);
    seen.add(d.name.value);
  }
  const fields: FieldMeta[] = [];
  const relations: RelationMeta[] = [];
  for (const field of type.fields ?? []) {
    const relation = parseRelation(name, field, modelNames);
    if (relation) relations.push(relation);
    else fields.push(parseField(name, field, enums));
  }
  if (!fields.some((f) => f.name === 'id' && f.type.kind === 'scalar' && f.type.name === 'ID' && f.required && !f.list)) {
    throw new SchemaError(`${name}: a DataStore model needs an "id: ID!" field`);
  }
  for (const relation of relations.filter((r) => r.kind === 'belongsTo')) {
    for (const ref of relation.references) {
      if (!fields.some((f) => f.name === ref)) throw new SchemaError(`${name}.${relation.name}: references field ${ref}, which ${name} does not declare`);
    }
  }

  const auth = parseAuth(name, directive(type.directives, 'auth'));
  for (const rule of auth) {
    if (rule.allow === 'owner' && !fields.some((f) => f.name === rule.ownerField)) {
      // Amplify adds the owner field implicitly when the type does not declare it.
      fields.push({ name: rule.ownerField, column: snakeCase(rule.ownerField), type: { kind: 'scalar', name: 'String' }, required: false, list: false, readOnly: false });
    }
  }
  fields.push(...timestampFields(name, directive(type.directives, 'model'), fields));
  checkDefaults(name, fields, relations, auth);

  return {
    name,
    pluralName: pluralName(name),
    table: refersTo(type.directives) ?? snakeCase(pluralName(name)),
    fields,
    relations,
    auth,
    ...parseConflict(name, directive(type.directives, 'conflict')),
  };
}

function parseField(model: string, field: FieldDefinitionNode, enums: Map<string, string[]>): FieldMeta {
  const where = `${model}.${field.name.value}`;
  const seen = new Set<string>();
  for (const d of field.directives ?? []) {
    if (!['refersTo', 'counter', 'default'].includes(d.name.value)) throw new SchemaError(`${where}: directive @${d.name.value} is not supported on a scalar field`);
    if (seen.has(d.name.value)) throw new SchemaError(`${where}: directive @${d.name.value} appears twice`);
    seen.add(d.name.value);
  }
  const { named, required, list } = unwrap(field.type);
  const counter = Boolean(directive(field.directives, 'counter'));
  if (counter && (list || !['Int', 'Float'].includes(named))) throw new SchemaError(`${where}: @counter needs an Int or Float field (not a list)`);
  let type: FieldType;
  if ((SCALARS as readonly string[]).includes(named)) type = { kind: 'scalar', name: named as ScalarName };
  else if (enums.has(named)) type = { kind: 'enum', name: named, values: enums.get(named)! };
  else throw new SchemaError(`${where}: type ${named} is not a scalar, an enum or a @model`);
  const readOnly = field.name.value === 'createdAt' || field.name.value === 'updatedAt';
  const defaultDirective = directive(field.directives, 'default');
  const fieldDefault = defaultDirective && parseDefault(where, defaultDirective, type, list);
  return {
    name: field.name.value, column: refersTo(field.directives) ?? snakeCase(field.name.value), type, required, list, readOnly,
    ...(counter ? { counter } : {}), ...(fieldDefault !== undefined ? { default: fieldDefault } : {}),
  };
}

/**
 * @default(value: "..."), as Amplify's own directive has it (`directive @default(value: String) on
 * FIELD_DEFINITION`, @aws-amplify/graphql-directives): the value is a string literal, read as the
 * field's type; only a scalar or enum field that is not a list takes one (amplify-category-api,
 * graphql-default-value-transformer). Parsed more strictly than Amplify does ("12abc" is not an Int).
 */
function parseDefault(where: string, node: ConstDirectiveNode, type: FieldType, list: boolean): DefaultValue {
  const args = node.arguments ?? [];
  if (args.length !== 1 || args[0]!.name.value !== 'value') throw new SchemaError(`${where}: @default takes one argument, value`);
  const literal = args[0]!.value;
  if (literal.kind !== Kind.STRING) throw new SchemaError(`${where}: @default(value:) must be a string, whatever the field's type (as in Amplify: value: "42")`);
  if (list) throw new SchemaError(`${where}: @default does not apply to a list field`);
  const text = literal.value;
  const refused = (expected: string) => new SchemaError(`${where}: @default(value: ${JSON.stringify(text)}) is not ${expected}`);
  if (type.kind === 'enum') {
    if (!type.values.includes(text)) throw refused(`a value of enum ${type.name} (${type.values.join(', ')})`);
    return text;
  }
  switch (type.name) {
    case 'Int': {
      const value = /^-?\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isInteger(value) || value < -(2 ** 31) || value > 2 ** 31 - 1) throw refused('an Int (a 32-bit integer)');
      return value;
    }
    case 'AWSTimestamp': {
      const value = /^-?\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(value)) throw refused('an AWSTimestamp (an integer)');
      return value;
    }
    case 'Float': {
      const value = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : NaN;
      if (!Number.isFinite(value)) throw refused('a Float (a finite number)');
      return value;
    }
    case 'Boolean':
      if (text !== 'true' && text !== 'false') throw refused('a Boolean (true or false)');
      return text === 'true';
    case 'ID':
      if (text.length === 0) throw refused('an ID (a non-empty string)');
      return text;
    case 'String':
      return text;
    default:
      if (!stringScalarFormats[type.name](text)) throw refused(`a valid ${type.name}`);
      return text;
  }
}

/**
 * A default stands in for a value a client does not send: never for one the server or the device decides
 * (the id, server-set timestamps, the owner), nor for the reference of a relation, which would point every
 * item created without it at one fixed item.
 */
function checkDefaults(model: string, fields: readonly FieldMeta[], relations: readonly RelationMeta[], auth: readonly AuthRule[]): void {
  for (const field of fields.filter((f) => f.default !== undefined)) {
    const where = `${model}.${field.name}`;
    if (field.name === 'id') throw new SchemaError(`${where}: @default does not apply to the id (DataStore creates ids on the device)`);
    if (field.readOnly) throw new SchemaError(`${where}: @default does not apply to a field the server sets`);
    if (auth.some((r) => r.allow === 'owner' && r.ownerField === field.name)) throw new SchemaError(`${where}: @default does not apply to the owner field (the server sets it from the caller's identity)`);
    if (relations.some((r) => r.kind === 'belongsTo' && r.references.includes(field.name))) throw new SchemaError(`${where}: @default does not apply to a relation's reference field`);
  }
}

function parseRelation(model: string, field: FieldDefinitionNode, modelNames: Set<string>): RelationMeta | undefined {
  const { named } = unwrap(field.type);
  if (!modelNames.has(named)) return undefined;
  const where = `${model}.${field.name.value}`;
  const relationDirectives = (field.directives ?? []).filter((d) => ['belongsTo', 'hasMany', 'hasOne'].includes(d.name.value));
  const [relation] = relationDirectives;
  if (!relation || relationDirectives.length > 1) throw new SchemaError(`${where}: a field of @model type ${named} needs exactly one of @belongsTo, @hasMany, @hasOne`);
  for (const d of field.directives ?? []) {
    if (d.name.value === 'default') throw new SchemaError(`${where}: @default does not apply to a relation`);
    if (!FIELD_DIRECTIVES.has(d.name.value)) throw new SchemaError(`${where}: directive @${d.name.value} is not supported`);
  }
  const references = argument(relation, 'references');
  if (references?.kind !== Kind.LIST || references.values.some((v) => v.kind !== Kind.STRING)) {
    throw new SchemaError(`${where}: @${relation.name.value} needs references: ["<field>"]`);
  }
  return {
    name: field.name.value,
    kind: relation.name.value as RelationMeta['kind'],
    model: named,
    references: references.values.map((v) => (v as { value: string }).value),
  };
}

function parseAuth(model: string, auth: ConstDirectiveNode | undefined): AuthRule[] {
  const rules = auth && argument(auth, 'rules');
  if (!rules || rules.kind !== Kind.LIST || rules.values.length === 0) {
    throw new SchemaError(`${model}: needs @auth(rules: [...]); a model without rules would be open to anyone`);
  }
  return rules.values.map((node) => {
    const rule = objectValue(model, node);
    const allow = rule.allow;
    const provider = rule.provider;
    for (const key of Object.keys(rule)) {
      if (!['allow', 'provider', 'ownerField', 'identityClaim', 'groups'].includes(key)) throw new SchemaError(`${model}: @auth rule argument ${key} is not supported`);
    }
    switch (allow) {
      case 'owner':
        if (provider !== undefined && provider !== 'userPools') throw new SchemaError(`${model}: owner rules need provider userPools`);
        return { allow, provider: 'userPools', ownerField: stringOr(rule.ownerField, 'owner'), identityClaim: stringOr(rule.identityClaim, 'username') };
      case 'groups': {
        const groups = rule.groups;
        if (!Array.isArray(groups) || groups.length === 0 || groups.some((g) => typeof g !== 'string')) throw new SchemaError(`${model}: a groups rule needs groups: ["..."]`);
        return { allow, provider: 'userPools', groups: groups as string[] };
      }
      case 'private':
        if (provider !== undefined && provider !== 'userPools' && provider !== 'iam') throw new SchemaError(`${model}: private rules take provider userPools or iam`);
        return { allow, provider: (provider ?? 'userPools') as 'userPools' | 'iam' };
      case 'public':
        if (provider !== undefined && provider !== 'apiKey' && provider !== 'iam') throw new SchemaError(`${model}: public rules take provider apiKey or iam`);
        return { allow, provider: (provider ?? 'apiKey') as 'apiKey' | 'iam' };
      default:
        throw new SchemaError(`${model}: @auth allow: ${String(allow)} is not supported (owner, groups, private, public)`);
    }
  });
}

function timestampFields(model: string, modelDirective: ConstDirectiveNode | undefined, declared: FieldMeta[]): FieldMeta[] {
  const timestamps = modelDirective && argument(modelDirective, 'timestamps');
  if (timestamps?.kind === Kind.NULL) return [];
  const names = timestamps ? objectValue(model, timestamps) : {};
  return (['createdAt', 'updatedAt'] as const).flatMap((key) => {
    const name = stringOr(names[key], key);
    const existing = declared.find((f) => f.name === name);
    if (existing) {
      existing.readOnly = true;
      return [];
    }
    return [{ name, column: snakeCase(key), type: { kind: 'scalar', name: 'AWSDateTime' }, required: true, list: false, readOnly: true } satisfies FieldMeta];
  });
}

function parseConflict(model: string, conflict: ConstDirectiveNode | undefined): Pick<ModelMeta, 'conflictHandler' | 'fieldConflict'> {
  const handler = enumArgument(model, conflict, 'handler', CONFLICT_HANDLERS) ?? 'MERGE';
  const fieldConflict = enumArgument(model, conflict, 'fieldConflict', FIELD_CONFLICT_POLICIES);
  if (fieldConflict && handler !== 'MERGE') throw new SchemaError(`${model}: @conflict(fieldConflict:) applies to handler MERGE only`);
  return { conflictHandler: handler, fieldConflict: fieldConflict ?? 'LATEST_WRITE_WINS' };
}

function enumArgument<T extends string>(model: string, node: ConstDirectiveNode | undefined, name: string, allowed: readonly T[]): T | undefined {
  const value = node && argument(node, name);
  if (value === undefined) return undefined;
  if (value.kind !== Kind.ENUM || !(allowed as readonly string[]).includes(value.value)) {
    throw new SchemaError(`${model}: @conflict(${name}:) must be one of ${allowed.join(', ')}`);
  }
  return value.value as T;
}

function unwrap(type: TypeNode): { named: string; required: boolean; list: boolean } {
  const required = type.kind === Kind.NON_NULL_TYPE;
  const inner = type.kind === Kind.NON_NULL_TYPE ? type.type : type;
  if (inner.kind === Kind.LIST_TYPE) {
    const element = inner.type.kind === Kind.NON_NULL_TYPE ? inner.type.type : inner.type;
    if (element.kind !== Kind.NAMED_TYPE) throw new SchemaError('nested lists are not supported');
    return { named: element.name.value, required, list: true };
  }
  return { named: inner.name.value, required, list: false };
}

function directive(directives: readonly ConstDirectiveNode[] | undefined, name: string): ConstDirectiveNode | undefined {
  return directives?.find((d) => d.name.value === name);
}

function argument(node: ConstDirectiveNode, name: string): ConstValueNode | undefined {
  return node.arguments?.find((a) => a.name.value === name)?.value;
}

function refersTo(directives: readonly ConstDirectiveNode[] | undefined): string | undefined {
  const d = directive(directives, 'refersTo');
  if (!d) return undefined;
  const name = argument(d, 'name');
  if (name?.kind !== Kind.STRING || !/^[a-z_][a-z0-9_]*$/.test(name.value)) {
    throw new SchemaError('@refersTo(name:) needs a lower-case SQL identifier');
  }
  return name.value;
}

type Plain = string | boolean | null | Plain[] | { [key: string]: Plain };

function plain(node: ConstValueNode): Plain {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.ENUM:
      return node.value;
    case Kind.BOOLEAN:
      return node.value;
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map(plain);
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, plain(f.value)]));
    default:
      throw new SchemaError(`unexpected ${node.kind} in a directive argument`);
  }
}

function objectValue(model: string, node: ConstValueNode): Record<string, Plain> {
  const value = plain(node);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SchemaError(`${model}: expected an object in a directive argument`);
  return value;
}

function stringOr(value: Plain | undefined, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}
