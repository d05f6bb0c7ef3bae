// --tls-cert/--tls-key: https and wss, so a phone on the LAN can reach the API (Amplify's realtime
// client always uses wss:// for a host other than this machine).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newDevCredentials, startLocalAppSync } from '../src';
import { realtimeClient } from './helpers';

test('serves https and wss with the given certificate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dspg-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const credentials = newDevCredentials();
  const server = await startLocalAppSync({ credentials, tls: { cert, key: readFileSync(join(dir, 'key.pem'), 'utf8') } });
  try {
    expect(server.url).toMatch(/^https:\/\//);
    expect(server.realtimeUrl).toMatch(/^wss:\/\//);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(server.url, { method: 'POST', ca: cert, headers: { 'content-type': 'application/json' } }, (res) => resolve(res.statusCode!));
      req.on('error', reject);
      req.end('{"query":"{ __typename }"}');
    });
    expect(status).toBe(401); // reached over TLS; no credentials sent
    const client = await realtimeClient(server.realtimeUrl, { 'x-api-key': credentials.apiKey }, { ca: cert });
    client.send({ type: 'connection_init' });
    expect(await client.next((m) => m.type === 'connection_ack')).toMatchObject({ type: 'connection_ack' });
    client.close();
  } finally {
    await server.close();
  }
});
