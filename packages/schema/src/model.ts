// The metadata a handler needs about one model, derived from schema.graphql. Plain data (JSON-safe),
// so it is generated once into models.generated.ts and a Lambda never parses GraphQL at run time.

/** The GraphQL scalars a model field may have (AppSync's AWS scalars included). */
export const SCALARS = [
  'ID', 'String', 'Int', 'Float', 'Boolean',
  'AWSDate', 'AWSTime', 'AWSDateTime', 'AWSTimestamp', 'AWSEmail', 'AWSJSON', 'AWSURL', 'AWSPhone', 'AWSIPAddress',
] as const;
export type ScalarName = (typeof SCALARS)[number];

export type FieldType = { kind: 'scalar'; name: ScalarName } | { kind: 'enum'; name: string; values: readonly string[] };

export interface FieldMeta {
  /** GraphQL name (siteID). */
  name: string;
  /** Column name (site_id). */
  column: string;
  type: FieldType;
  /** Non-null in GraphQL: a create must provide it (unless the server sets it) and nothing may null it. */
  required: boolean;
  list: boolean;
  /** Set by the server only (createdAt, updatedAt): a client sending it is refused. */
  readOnly: boolean;
  /**
   * @counter: an Int or Float that writers change by amounts (a stock count). A write based on an older
   * version applies its difference from that version to the server's value instead of replacing it.
   */
  counter?: true;
  /**
   * @default(value: "..."): the value a create gets when it does not send the field, as the field's
   * GraphQL type has it (a number, a boolean, or a string). Lets a release add a required field that
   * apps already in the field do not know: Create<Model>Input does not require it.
   */
  default?: DefaultValue;
}

/** A @default value, typed as its field: Int, Float, AWSTimestamp -> number; Boolean -> boolean; others -> string. */
export type DefaultValue = string | number | boolean;

export interface RelationMeta {
  name: string;
  kind: 'belongsTo' | 'hasMany' | 'hasOne';
  model: string;
  /** The fields holding the related model's id (on this model for belongsTo, on the other for hasMany). */
  references: readonly string[];
  /** For belongsTo: where the related item lives, so an item can carry { id, _deleted } of it. */
  target?: { table: string; idColumn: string };
}

export type AuthRule =
  | { allow: 'owner'; ownerField: string; identityClaim: string; provider: 'userPools' }
  | { allow: 'groups'; groups: readonly string[]; provider: 'userPools' }
  | { allow: 'private'; provider: 'userPools' | 'iam' }
  | { allow: 'public'; provider: 'apiKey' | 'iam' };

export type ConflictHandler = 'MERGE' | 'OPTIMISTIC_CONCURRENCY' | 'AUTOMERGE' | 'CUSTOM';

/** MERGE: who wins a field that both the server (since the write's base) and the write changed. */
export type FieldConflictPolicy = 'LATEST_WRITE_WINS' | 'FIRST_WRITE_WINS';

export interface ModelMeta {
  name: string;
  /** As in syncWorkOrders: Amplify's plural of the model name. */
  pluralName: string;
  table: string;
  /** Every scalar and enum field, the id and server-set timestamps included; relations excluded. */
  fields: readonly FieldMeta[];
  relations: readonly RelationMeta[];
  auth: readonly AuthRule[];
  conflictHandler: ConflictHandler;
  fieldConflict: FieldConflictPolicy;
}
