// onCreate/onUpdate/onDelete<Model>: no data source work, only who may listen to what. The client's
// filter argument and, under an owner rule, the caller's own rows become an enhanced subscription
// filter; the owner argument must name the caller. Rules per model come from schema.graphql.
import { extensions, util } from '@aws-appsync/utils';
import rules from './subscription-rules.generated.json';

export function request() {
  return { payload: null };
}

export function response(ctx) {
  // onCreate, onUpdate and onDelete are all eight characters long, onDelta (the AppSync SDK's Delta Sync)
  // seven (APPSYNC_JS has no regular expressions worth relying on).
  const fieldName = ctx.info.fieldName;
  const model = fieldName.startsWith('onDelta') ? fieldName.slice(7) : fieldName.slice(8);
  const rule = rules[model];
  if (!rule) {
    util.error('no subscription rule for this field', 'InternalError');
  }
  const conditions = [];
  if (ctx.args.filter) {
    conditions.push(ctx.args.filter);
  }
  if (rule.owner && !seesEveryRow(ctx.identity, rule)) {
    const caller = callerName(ctx.identity, rule.owner.identityClaim);
    if (!caller || ctx.args.owner !== caller) {
      util.unauthorized();
    }
    const ownerCondition = {};
    ownerCondition[rule.owner.field] = { eq: caller };
    conditions.push(ownerCondition);
  }
  if (conditions.length > 0) {
    extensions.setSubscriptionFilter(util.transform.toSubscriptionFilter(conditions.length === 1 ? conditions[0] : { and: conditions }));
  }
  return null;
}

/** A public, private or group rule admits the caller to every row. */
function seesEveryRow(identity, rule) {
  const authType = util.authType();
  if (authType === 'API Key Authorization') return rule.apiKey;
  if (authType === 'IAM Authorization') return rule.iam;
  if (authType !== 'User Pool Authorization') return false;
  if (rule.userPools) return true;
  const groups = (identity && (identity.groups || (identity.claims && identity.claims['cognito:groups']))) || [];
  return groups.some((group) => rule.groups.includes(group));
}

function callerName(identity, claim) {
  if (!identity || !identity.claims) return null;
  if (claim === 'username') return identity.username || identity.claims['cognito:username'] || null;
  return identity.claims[claim] || null;
}
