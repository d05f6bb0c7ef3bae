// Query and Mutation fields: invoke the model's Lambda with the event its handler expects and surface
// its error envelope as a GraphQL error carrying errorType and data. A direct Lambda resolver would
// hand the envelope to the client as plain data (design.md §5); DataStore needs
// errorType "ConflictUnhandled" with the server's item as the error's data.
import { util } from '@aws-appsync/utils';

export function request(ctx) {
  return {
    operation: 'Invoke',
    payload: {
      arguments: ctx.arguments,
      identity: ctx.identity,
      info: {
        fieldName: ctx.info.fieldName,
        parentTypeName: ctx.info.parentTypeName,
        selectionSetList: ctx.info.selectionSetList,
        variables: ctx.info.variables,
      },
    },
  };
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  const result = ctx.result;
  if (result.errorType) {
    util.error(result.errorMessage, result.errorType, result.data);
  }
  return result.data;
}
