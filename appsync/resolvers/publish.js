// publish<Op><Model>: the forwarder announcing one change, from any writer. No data source work: the
// item it read from the journal is the result, and AppSync hands it to the model's onCreate, onUpdate
// or onDelete subscribers, whose filter and owner rule (subscribe.js) decide who receives it. The
// schema admits only IAM callers (@aws_iam); of those, only sessions of the forwarder's role
// (ctx.env.FORWARDER_SESSIONS, set by the stack): another principal of the account allowed to call the
// whole API could otherwise send any item to any technician.
import { util } from '@aws-appsync/utils';

export function request(ctx) {
  const sessions = ctx.env.FORWARDER_SESSIONS;
  const caller = ctx.identity && ctx.identity.userArn;
  if (!sessions || typeof caller !== 'string' || !caller.startsWith(sessions) || ctx.identity.cognitoIdentityId) {
    util.unauthorized();
  }
  // AppSync hands an AWSJSON argument to resolvers already parsed
  // (https://docs.aws.amazon.com/appsync/latest/devguide/scalars.html); the local endpoint as the JSON text.
  const item = typeof ctx.args.item === 'string' ? JSON.parse(ctx.args.item) : ctx.args.item;
  if (!item || typeof item !== 'object' || typeof item.id !== 'string' || typeof item._version !== 'number') {
    util.error('item must be a JSON object with an id and a _version', 'BadRequest');
  }
  // The AppSync SDK's Delta Sync (onDelta<Model>) evicts an item marked aws_ds: DELETE.
  item.aws_ds = item._deleted ? 'DELETE' : null;
  return { payload: item };
}

export function response(ctx) {
  return ctx.result;
}
