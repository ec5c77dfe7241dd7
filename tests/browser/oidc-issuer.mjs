// A stand-in OIDC issuer for the browser tests (in production, Microsoft Entra ID or another
// identity provider): serves its discovery document and JWKS on 127.0.0.1 and mints RS256 access
// tokens for the tests with GET /token?organisation=…&roles=…&name=…. It never leaves the machine.
//
//     node oidc-issuer.mjs PORT_FILE
//
// Listens on a free port and writes the port to PORT_FILE once it is serving.

import { createServer } from 'node:http';
import { createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = randomUUID();
const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
const b64url = (data) => Buffer.from(data).toString('base64url');

function mint(issuer, { organisation, roles, name, audience }) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
  const claims = b64url(JSON.stringify({
    iss: issuer, aud: audience || 'sharedmetrics', sub: randomUUID(), iat: now, nbf: now - 5, exp: now + 3600,
    name, organisation, roles,
  }));
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${claims}`);
  return `${header}.${claims}.${signer.sign(privateKey).toString('base64url')}`;
}

const server = createServer((request, response) => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const url = new URL(request.url, issuer);
  const json = (body) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  if (url.pathname === '/.well-known/openid-configuration') return json({ issuer, jwks_uri: `${issuer}/jwks.json` });
  if (url.pathname === '/jwks.json') return json({ keys: [jwk] });
  if (url.pathname === '/token') {
    return json({
      access_token: mint(issuer, {
        organisation: url.searchParams.get('organisation') || '',
        roles: (url.searchParams.get('roles') || 'reader').split(','),
        name: url.searchParams.get('name') || 'Test Person',
        audience: url.searchParams.get('audience') || undefined,
      }),
      token_type: 'Bearer',
    });
  }
  response.writeHead(404).end();
});

server.listen(0, '127.0.0.1', () => writeFileSync(process.argv[2], String(server.address().port)));
