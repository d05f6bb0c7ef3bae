// publish<Op><Model>: the forwarder announcing one change, from any writer. No data source work: the
// item it read from the journal is the result, and AppSync hands it to the model's onCreate, onUpdate
// or onDelete subscribers, whose filter and owner rule (subscribe.js) decide who receives it. The
// schema admits only IAM callers (@aws_iam), and the stack lets only the forwarder's role call it.
import { util } from '@aws-appsync/utils';

export function request(ctx) {
  // AppSync hands an AWSJSON argument to resolvers already parsed; the local endpoint as the JSON text.
  const item = typeof ctx.args.item === 'string' ? JSON.parse(ctx.args.item) : ctx.args.item;
  if (!item || typeof item !== 'object' || typeof item.id !== 'string' || typeof item._version !== 'number') {
    util.error('item must be a JSON object with an id and a _version', 'BadRequest');
  }
  return { payload: item };
}

export function response(ctx) {
  return ctx.result;
}
