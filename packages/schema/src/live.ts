// Live changes: the publish mutations the forwarder calls for every change, from any writer, and the
// only mutations the onCreate/onUpdate/onDelete subscriptions listen to (one ordered path: a device's
// own mutation reaches other devices through the forwarder too, so for one item a version never
// arrives after a newer one; design.md §6). Plain functions over the model metadata, no GraphQL parser:
// the forwarder Lambda bundles this.
import type { ModelMeta } from './model';

export const LIVE_OPERATIONS = ['create', 'update', 'delete'] as const;
export type LiveOperation = (typeof LIVE_OPERATIONS)[number];

/** publishCreateSite, publishUpdateSite, publishDeleteSite: IAM-only, on a NONE data source. */
export function publishField(model: Pick<ModelMeta, 'name'>, operation: LiveOperation): string {
  return `publish${operation.charAt(0).toUpperCase()}${operation.slice(1)}${model.name}`;
}

/**
 * Everything a subscriber may select: AppSync gives a subscription only what the triggering mutation
 * selected, and DataStore selects every field, each belongsTo target's { id _deleted } and the metadata;
 * the AppSync SDK's Delta Sync also aws_ds.
 */
export function itemSelection(model: ModelMeta): string {
  return [
    ...model.fields.map((f) => f.name),
    ...model.relations.filter((r) => r.kind === 'belongsTo').map((r) => `${r.name} { id _deleted }`),
    '_version', '_deleted', '_lastChangedAt',
    // For the AppSync SDK's Delta Sync subscribers (onDelta<Model>); publish.js sets it.
    'aws_ds',
  ].join(' ');
}

/** The subscription an item is announced on: a tombstone on onDelete, a first version on onCreate. */
export function liveOperationOf(item: { _version: number; _deleted: boolean }): LiveOperation {
  if (item._deleted) return 'delete';
  return item._version === 1 ? 'create' : 'update';
}

/**
 * One item's publish request. One mutation field per request, never aliased: AppSync does not trigger
 * subscriptions from an aliased mutation field (aws/aws-appsync-community#160, aws-amplify/amplify-js#3213).
 */
export function publishRequest(model: ModelMeta, item: { _version: number; _deleted: boolean }): { field: string; query: string; variables: { item: string } } {
  const field = publishField(model, liveOperationOf(item));
  return {
    field,
    query: `mutation Publish($item: AWSJSON!) { ${field}(item: $item) { ${itemSelection(model)} } }`,
    variables: { item: JSON.stringify(item) },
  };
}
