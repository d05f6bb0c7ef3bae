// Publishing a window's items through GraphQL: one publish mutation per item (live.ts), sent through
// whatever runs GraphQL (AppSync over HTTPS with SigV4 on AWS, the local endpoint in-process).
import type { ModelMeta } from '@datastore-pg/schema/models';
import { publishRequest } from '@datastore-pg/schema/live';
import type { Item } from '@datastore-pg/versioning';
import type { Publisher } from './forwarder';

export interface GraphQLRequest {
  query: string;
  variables: Record<string, unknown>;
}
export interface GraphQLResponse {
  data?: unknown;
  errors?: readonly { message: string; errorType?: string | null }[];
}
export type GraphQLTransport = (request: GraphQLRequest) => Promise<GraphQLResponse>;

/** A publish the API answered with errors without returning the item: the window is published again. */
export class PublishError extends Error {
  override name = 'PublishError';
}

/** An item the API answered with errors: what it was and what the API said. */
export interface ErroredPublish {
  model: string;
  id: string;
  version: number;
  errors: string;
}

export interface GraphQLPublisherOptions {
  /** Publish requests in flight at a time (within one window). */
  concurrency?: number;
  /**
   * Told of an item the API answered with errors in a field while still returning it (a value its schema
   * refuses, such as an email an ERP wrote by SQL that is not an AWSEmail: subscribers get the item
   * without that field). Sending it again would get the same answer, and holding the window back for it
   * would stop every later change of the model: it is reported and the forwarder goes on. Any other
   * error (the item not returned: unauthorized, throttled, a timeout; a failed request) fails the window,
   * which is published again.
   */
  onErrors: (errored: ErroredPublish) => void;
}

/**
 * A window holds one version per item, so its items may be published side by side (up to concurrency
 * requests at a time); the forwarder publishes the next window only once this one is done, so for one
 * item a version never goes out after a newer one.
 */
export function graphqlPublisher(transport: GraphQLTransport, options: GraphQLPublisherOptions): Publisher {
  const concurrency = options.concurrency ?? 8;
  return {
    async publish(model: ModelMeta, items: readonly Item[]) {
      let next = 0;
      let failed = false;
      const worker = async () => {
        // After a failure no worker takes another item: one still being sent after the window is retried
        // could deliver an older version after the retry's newer one.
        while (next < items.length && !failed) {
          const item = items[next++]!;
          try {
            const { field, ...request } = publishRequest(model, item);
            const { data, errors } = await transport(request);
            if (!errors || errors.length === 0) continue;
            const described = errors.map((e) => `${e.errorType ?? 'error'}: ${e.message}`).join('; ');
            const returned = (data as Record<string, unknown> | null | undefined)?.[field];
            if (returned === null || returned === undefined) throw new PublishError(`publishing ${model.name} ${String(item.id)} v${item._version}: ${described}`);
            options.onErrors({ model: model.name, id: String(item.id), version: item._version, errors: described });
          } catch (error) {
            failed = true;
            throw error;
          }
        }
      };
      // Every worker settles before the window is failed, so nothing of it is still in flight on retry.
      const results = await Promise.allSettled(Array.from({ length: Math.min(concurrency, items.length) }, worker));
      const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (rejected) throw rejected.reason;
    },
  };
}
