// The AppSync direct Lambda resolver event and result, as far as the handlers use them.
// https://docs.aws.amazon.com/appsync/latest/devguide/resolver-context-reference-js.html

export interface AppSyncEvent {
  arguments: Record<string, unknown>;
  /** null for API key; Cognito user pools: sub, username, claims, groups; IAM: accountId, userArn, ... */
  identity?: Record<string, unknown> | null;
  info: {
    fieldName: string;
    parentTypeName: string;
    selectionSetList?: string[];
    variables?: Record<string, unknown>;
  };
  request?: { headers?: Record<string, string> };
}

/** What a handler returns; the AppSync resolver turns errorType into util.error(message, type, data). */
export type Envelope = { data: unknown } | { data: unknown; errorType: string; errorMessage: string };
