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
   * Told of an item the API answered with errors (a value its schema refuses, such as an email an ERP
   * wrote by SQL that is not an AWSEmail: subscribers get the item without it, if at all). Sending it
   * again would get the same answer, and holding the window back for it would stop every later change
   * of the model: it is reported and the forwarder goes on. A failed request (the network, an HTTP
   * error) is not an answer: it fails the window, which is published again.
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
      const worker = async () => {
        while (next < items.length) {
          const item = items[next++]!;
          const { errors } = await transport(publishRequest(model, item));
          if (errors && errors.length > 0) {
            options.onErrors({ model: model.name, id: String(item.id), version: item._version, errors: errors.map((e) => `${e.errorType ?? 'error'}: ${e.message}`).join('; ') });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
    },
  };
}
