// Valid inputs for any model, derived from its metadata: parents that a belongsTo references are
// created first, through their own handlers.
import { randomUUID } from 'node:crypto';
import { models, type FieldMeta, type ModelMeta } from '@datastore-pg/schema/models';
import { apiKey, dispatcher, ok, sampleValue, user, type Identity } from './appsync';
import { handlers } from './handlers';

const allModels: Record<string, ModelMeta> = models;

export function modelNamed(name: string): ModelMeta {
  return allModels[name]!;
}

export function ownerRule(model: ModelMeta) {
  return model.auth.find((r) => r.allow === 'owner');
}

/** Someone allowed to use the model: a technician for owner-ruled models, the API key otherwise. */
export function identityFor(model: ModelMeta): Identity {
  return ownerRule(model) ? user('tech-1') : apiKey;
}

function referenceFields(model: ModelMeta): Map<string, string> {
  const refs = new Map<string, string>();
  for (const relation of model.relations) {
    if (relation.kind === 'belongsTo') for (const field of relation.references) refs.set(field, relation.model);
  }
  return refs;
}

/** A create input: every writable field, required or not, with parents created as needed. */
export async function sampleInput(model: ModelMeta): Promise<Record<string, unknown>> {
  const refs = referenceFields(model);
  const owner = ownerRule(model)?.ownerField;
  const input: Record<string, unknown> = { id: randomUUID() };
  for (const field of model.fields) {
    if (field.name === 'id' || field.readOnly || field.name === owner) continue;
    const parent = refs.get(field.name);
    input[field.name] = parent ? (await createItem(modelNamed(parent), dispatcher)).id : sampleValue(field);
  }
  return input;
}

export async function createItem(model: ModelMeta, identity: Identity, overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return ok(handlers[model.name]!, `create${model.name}`, { input: { ...(await sampleInput(model)), ...overrides }, condition: null }, identity);
}

/** A plain field an update can change (not the id, a reference, the owner or a counter). */
export function editableField(model: ModelMeta): FieldMeta {
  return editableFields(model)[0]!;
}

/** Another such field, for tests where two writers change different fields. */
export function otherEditableField(model: ModelMeta, field: FieldMeta): FieldMeta {
  const other = editableFields(model).find((f) => f !== field);
  if (!other) throw new Error(`${model.name} has no second String or Int field to edit in tests`);
  return other;
}

function editableFields(model: ModelMeta): FieldMeta[] {
  const refs = referenceFields(model);
  const owner = ownerRule(model)?.ownerField;
  const fields = model.fields.filter((f) => f.name !== 'id' && !f.readOnly && !refs.has(f.name) && f.name !== owner && !f.list && !f.counter
    && f.type.kind === 'scalar' && (f.type.name === 'String' || f.type.name === 'Int'));
  if (fields.length === 0) throw new Error(`${model.name} has no String or Int field to edit in tests`);
  return fields;
}

export function anotherValue(field: FieldMeta, current: unknown): unknown {
  return field.type.kind === 'scalar' && field.type.name === 'Int' ? Number(current) + 1 : `${String(current)} (edited)`;
}
