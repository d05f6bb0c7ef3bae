// npm run dev:token -- <username> [--groups A,B]: tokens for the local API's user pools mode, signed
// with the dev server's key (.data/local-appsync.json), shaped like Cognito's access and ID tokens.
import { parseArgs } from 'node:util';
import { signUserToken } from './auth';
import { loadDevCredentials } from './credentials';

const { values, positionals } = parseArgs({ options: { groups: { type: 'string', default: '' } }, allowPositionals: true });
const username = positionals[0];
if (!username) {
  console.error('usage: npm run dev:token -- <username> [--groups Dispatchers,...]');
  process.exit(2);
}
const groups = values.groups ? values.groups.split(',').filter(Boolean) : [];
const { jwtSecret } = loadDevCredentials();
console.log(JSON.stringify({
  username,
  groups,
  accessToken: signUserToken(jwtSecret, { username, groups, tokenUse: 'access' }),
  idToken: signUserToken(jwtSecret, { username, groups, tokenUse: 'id' }),
}, null, 2));
