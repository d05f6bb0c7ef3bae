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

export class PublishError extends Error {}

/**
 * A window holds one version per item, so its items may be published side by side (up to concurrency
 * requests at a time); the forwarder publishes the next window only once this one is done, so for one
 * item a version never goes out after a newer one.
 */
export function graphqlPublisher(transport: GraphQLTransport, options: { concurrency?: number } = {}): Publisher {
  const concurrency = options.concurrency ?? 8;
  return {
    async publish(model: ModelMeta, items: readonly Item[]) {
      let next = 0;
      const worker = async () => {
        while (next < items.length) {
          const item = items[next++]!;
          const { errors } = await transport(publishRequest(model, item));
          if (errors && errors.length > 0) {
            throw new PublishError(`publishing ${model.name} ${String(item.id)} v${item._version} failed: ${errors.map((e) => `${e.errorType ?? 'error'}: ${e.message}`).join('; ')}`);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
    },
  };
}
