export { parseModels, SchemaError } from './parse';
export { snakeCase, pluralName } from './naming';
export { models } from './models.generated';
export { SCALARS, type AuthRule, type ConflictHandler, type DefaultValue, type FieldMeta, type FieldType, type ModelMeta, type RelationMeta, type ScalarName } from './model';
export { renderAppSyncSchema, authDirectives, APPSYNC_DEFINITIONS, DATASTORE_PG_DIRECTIVES } from './appsync-sdl';
export { renderWiring, renderSubscriptionRules, serviceDirectory, functionName, dataSourceName } from './appsync-wiring';
export { LIVE_OPERATIONS, liveOperationOf, publishField, publishRequest, itemSelection, type LiveOperation } from './live';
