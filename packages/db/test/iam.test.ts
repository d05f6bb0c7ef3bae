import { randomBytes } from 'node:crypto';
import { ENV, requireEnv, useTestDatabase, withAdmin } from '@datastore-pg/testing';
import { awsTokenSigner, connect, iamTarget, readerTargetFromEnv, targetFromEnv, type ConnectTarget, type TokenSigner } from '../src';

const db = useTestDatabase();

test('an IAM target connects with a freshly signed token as the password of every connection', async () => {
  // AWS cannot exist here: a stand-in signer returns the token, and a real role has it as password.
  const role = `dspg_iam_${randomBytes(4).toString('hex')}`;
  const token = randomBytes(24).toString('base64url');
  const server = new URL(requireEnv(ENV.serverUrl));
  await withAdmin(requireEnv(ENV.serverUrl), async (sql) => {
    await sql.unsafe(`create role ${role} login password '${token}'`);
  });
  const signed: Parameters<TokenSigner>[0][] = [];
  const sign: TokenSigner = async (endpoint) => {
    signed.push(endpoint);
    return token;
  };
  const sql = connect(iamTarget({ host: server.hostname, port: Number(server.port), database: db.name, username: role, region: 'eu-west-1' }, sign, false), { max: 2 });
  try {
    const [first, second] = await Promise.all([sql`select current_user as user, pg_sleep(0.05)`, sql`select current_user as user, pg_sleep(0.05)`]);
    expect([first![0]!.user, second![0]!.user]).toEqual([role, role]);
    expect(signed).toEqual([
      { hostname: server.hostname, port: Number(server.port), username: role, region: 'eu-west-1' },
      { hostname: server.hostname, port: Number(server.port), username: role, region: 'eu-west-1' },
    ]);
  } finally {
    await sql.end();
    await withAdmin(requireEnv(ENV.serverUrl), (admin) => admin.unsafe(`drop role ${role}`));
  }
});

test('the AWS signer produces an RDS connect token offline, from the credentials in the environment', async () => {
  const saved = { ...process.env };
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-real-secret', AWS_SESSION_TOKEN: '' });
  try {
    const token = await awsTokenSigner({ hostname: 'app.proxy-abc123.eu-west-1.rds.amazonaws.com', port: 5432, username: 'datastore_app', region: 'eu-west-1' });
    expect(token).toMatch(/^app\.proxy-abc123\.eu-west-1\.rds\.amazonaws\.com:5432\/\?/);
    expect(token).toContain('Action=connect');
    expect(token).toContain('DBUser=datastore_app');
    expect(token).toContain('X-Amz-Credential=AKIDEXAMPLE%2F');
  } finally {
    process.env = saved;
  }
});

test('the runtime connection comes from DATABASE_URL, or from the DB_* variables with IAM', () => {
  expect(targetFromEnv({ DATABASE_URL: 'postgres://localhost/x' })).toBe('postgres://localhost/x');
  expect(targetFromEnv({ DB_HOST: 'proxy.example', DB_NAME: 'datastore', DB_USER: 'datastore_app', AWS_REGION: 'us-east-1' })).toMatchObject({
    host: 'proxy.example', port: 5432, database: 'datastore', username: 'datastore_app', tls: true,
  });
  expect(() => targetFromEnv({ DB_HOST: 'proxy.example' })).toThrow(/DB_NAME, DB_USER, AWS_REGION/);
});

test('the read replica comes from DATABASE_READER_URL, or DB_READER_HOST as the same user with IAM; none when unset or empty', async () => {
  expect(readerTargetFromEnv({ DATABASE_URL: 'postgres://localhost/x', DATABASE_READER_URL: 'postgres://localhost:5433/x' })).toBe('postgres://localhost:5433/x');
  expect(readerTargetFromEnv({ DATABASE_URL: 'postgres://localhost/x' })).toBeUndefined();
  const iam = { DB_HOST: 'proxy.example', DB_PORT: '5432', DB_NAME: 'datastore', DB_USER: 'datastore_app', AWS_REGION: 'us-east-1' };
  // A stage without "readReplica" deploys DB_READER_HOST empty.
  expect(readerTargetFromEnv({ ...iam, DB_READER_HOST: '' })).toBeUndefined();
  expect(readerTargetFromEnv(iam)).toBeUndefined();
  const signed: Parameters<TokenSigner>[0][] = [];
  const reader = readerTargetFromEnv({ ...iam, DB_READER_HOST: 'proxy-read-only.endpoint.proxy.example' }, async (endpoint) => {
    signed.push(endpoint);
    return 'token';
  }) as ConnectTarget;
  expect(reader).toMatchObject({ host: 'proxy-read-only.endpoint.proxy.example', port: 5432, database: 'datastore', username: 'datastore_app', tls: true });
  // The token is signed for the endpoint it is used on.
  await expect(reader.password()).resolves.toBe('token');
  expect(signed).toEqual([{ hostname: 'proxy-read-only.endpoint.proxy.example', port: 5432, username: 'datastore_app', region: 'us-east-1' }]);
  expect(() => readerTargetFromEnv({ DB_READER_HOST: 'proxy-read-only.endpoint.proxy.example' })).toThrow(/DB_HOST, DB_NAME, DB_USER, AWS_REGION/);
});
