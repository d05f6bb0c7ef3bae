// The project's models, for run time: plain data, no GraphQL parser in the bundle.
export { models } from './models.generated';
export type { AuthRule, ConflictHandler, DefaultValue, FieldConflictPolicy, FieldMeta, FieldType, ModelMeta, RelationMeta, ScalarName } from './model';
