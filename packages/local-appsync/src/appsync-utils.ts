// The part of @aws-appsync/utils that resolvers here use, with AppSync's semantics: util.error aborts the
// resolver with an error carrying errorType and data; extensions.setSubscriptionFilter takes the filter
// util.transform.toSubscriptionFilter builds (AppSync's filterGroup form: groups OR'ed, filters in a
// group AND'ed).
import { randomUUID } from 'node:crypto';

export class ResolverError extends Error {
  constructor(
    message: string,
    readonly errorType: string | null,
    readonly data: unknown = null,
    readonly errorInfo: unknown = null,
  ) {
    super(message);
  }
}

export type AuthType = 'API Key Authorization' | 'User Pool Authorization' | 'IAM Authorization';

export interface SubscriptionCondition {
  fieldName: string;
  operator: string;
  value: unknown;
}
export interface SubscriptionFilter {
  filterGroup: { filters: SubscriptionCondition[] }[];
}

/** What one resolver evaluation may read and leave behind; resolvers run synchronously, one at a time. */
export interface ResolverState {
  authType: AuthType;
  fieldName: string;
  parentTypeName: string;
  subscriptionFilter?: SubscriptionFilter;
}

let current: ResolverState | undefined;

export function withResolverState<T>(state: ResolverState, fn: () => T): T {
  current = state;
  try {
    return fn();
  } finally {
    current = undefined;
  }
}

function state(): ResolverState {
  if (!current) throw new Error('@aws-appsync/utils used outside a resolver evaluation');
  return current;
}

const OPERATORS = new Set(['eq', 'ne', 'le', 'lt', 'ge', 'gt', 'contains', 'notContains', 'beginsWith', 'between', 'in', 'notIn', 'attributeExists']);

/** A ModelSubscription filter ({and, or, field: {op: value}}) in AppSync's filterGroup form. */
export function toSubscriptionFilter(filter: Record<string, unknown>): SubscriptionFilter {
  return { filterGroup: disjunction(filter).map((filters) => ({ filters })) };
}

/** The filter as OR of ANDs. */
function disjunction(filter: Record<string, unknown>): SubscriptionCondition[][] {
  let result: SubscriptionCondition[][] = [[]];
  for (const [key, value] of Object.entries(filter)) {
    let part: SubscriptionCondition[][];
    if (key === 'and') part = (value as Record<string, unknown>[]).reduce((acc, f) => cross(acc, disjunction(f)), [[]] as SubscriptionCondition[][]);
    else if (key === 'or') part = (value as Record<string, unknown>[]).flatMap((f) => disjunction(f));
    else {
      part = [Object.entries(value as Record<string, unknown>).map(([operator, operand]) => {
        if (!OPERATORS.has(operator)) throw new ResolverError(`unsupported subscription filter operator ${operator}`, 'InvalidFilter');
        return { fieldName: key, operator, value: operand };
      })];
    }
    result = cross(result, part);
  }
  return result;
}

function cross(a: SubscriptionCondition[][], b: SubscriptionCondition[][]): SubscriptionCondition[][] {
  return a.flatMap((x) => b.map((y) => [...x, ...y]));
}

export function matchesSubscriptionFilter(filter: SubscriptionFilter | undefined, item: Record<string, unknown>): boolean {
  if (!filter) return true;
  return filter.filterGroup.some((group) => group.filters.every((condition) => matches(condition, item[condition.fieldName])));
}

function matches({ operator, value }: SubscriptionCondition, actual: unknown): boolean {
  const compare = (a: unknown, b: unknown) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b)));
  switch (operator) {
    case 'eq': return actual === value;
    case 'ne': return actual !== value;
    case 'le': return actual != null && compare(actual, value) <= 0;
    case 'lt': return actual != null && compare(actual, value) < 0;
    case 'ge': return actual != null && compare(actual, value) >= 0;
    case 'gt': return actual != null && compare(actual, value) > 0;
    case 'between': return actual != null && compare(actual, (value as unknown[])[0]) >= 0 && compare(actual, (value as unknown[])[1]) <= 0;
    case 'contains': return Array.isArray(actual) ? actual.includes(value) : typeof actual === 'string' && actual.includes(String(value));
    case 'notContains': return !(Array.isArray(actual) ? actual.includes(value) : typeof actual === 'string' && actual.includes(String(value)));
    case 'beginsWith': return typeof actual === 'string' && actual.startsWith(String(value));
    case 'in': return (value as unknown[]).includes(actual);
    case 'notIn': return !(value as unknown[]).includes(actual);
    case 'attributeExists': return (actual != null) === value;
    default: return false;
  }
}

/** The module a resolver gets for `import { util, extensions } from '@aws-appsync/utils'`. */
export const appsyncUtilsModule = {
  util: {
    error(message: string, errorType?: string, data?: unknown, errorInfo?: unknown): never {
      throw new ResolverError(message, errorType ?? null, data ?? null, errorInfo ?? null);
    },
    unauthorized(): never {
      const { fieldName, parentTypeName } = state();
      throw new ResolverError(`Not Authorized to access ${fieldName} on type ${parentTypeName}`, 'Unauthorized');
    },
    authType: (): AuthType => state().authType,
    autoId: (): string => randomUUID(),
    time: { nowEpochMilliSeconds: (): number => Date.now(), nowISO8601: (): string => new Date().toISOString() },
    transform: { toSubscriptionFilter },
  },
  extensions: {
    setSubscriptionFilter(filter: SubscriptionFilter): void {
      state().subscriptionFilter = filter;
    },
  },
};
