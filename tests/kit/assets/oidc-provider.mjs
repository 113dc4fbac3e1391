// OpenID Connect provider for the test kit: oidc-provider 9 (panva). Started by
// cutover-testkit's OidcProvider with PORT, ACCESS_TTL (s) and USERS (JSON
// {"login": "password"}). Client "cutover": authorization code + PKCE S256 +
// refresh tokens; client "dovecot": only calls /token/introspection.
// Node 18 has WebCrypto but not as a global: provide it before loading jose.
import { webcrypto } from 'node:crypto';
import http from 'node:http';

if (!globalThis.crypto) globalThis.crypto = webcrypto;
const { default: Provider } = await import('oidc-provider');

const PORT = Number(process.env.PORT);
const ISSUER = `http://127.0.0.1:${PORT}`;
const USERS = JSON.parse(process.env.USERS || '{}');

const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: 'cutover',
      client_secret: 'cutover-secret',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'dovecot',
      client_secret: 'dovecot-secret',
      redirect_uris: [],
      grant_types: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'offline_access'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  // Dovecot compares the IMAP login with `sub`: the account id is the login.
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: id, email_verified: true }),
  }),
  ttl: { AccessToken: Number(process.env.ACCESS_TTL || 60), RefreshToken: 86400 },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: true },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['test-cookie-key'] },
});

const form = (action, fields) => `<!doctype html><form method="post" action="${action}">${fields}<button>go</button></form>`;
const readBody = (req) => new Promise((ok) => { let b = ''; req.on('data', (c) => { b += c; }); req.on('end', () => ok(new URLSearchParams(b))); });

async function interaction(req, res) {
  const m = req.url.match(/^\/interaction\/([^/?]+)(?:\/(login|confirm|abort))?/);
  const details = await provider.interactionDetails(req, res);
  if (m[1] !== details.uid) throw new Error('uid mismatch');
  if (req.method === 'GET') {
    res.setHeader('content-type', 'text/html');
    if (details.prompt.name === 'login') {
      return res.end(form(`/interaction/${details.uid}/login`, '<input name="login"><input name="password" type="password">'));
    }
    return res.end(form(`/interaction/${details.uid}/confirm`, `<p>Allow ${details.params.client_id}: ${details.params.scope}?</p>`));
  }
  if (m[2] === 'login') {
    const p = await readBody(req);
    if (!Object.hasOwn(USERS, p.get('login')) || USERS[p.get('login')] !== p.get('password')) {
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'bad credentials' });
    }
    return provider.interactionFinished(req, res, { login: { accountId: p.get('login') } }, { mergeWithLastSubmission: false });
  }
  if (m[2] === 'confirm') {
    const { prompt: { details: missing }, params, session: { accountId } } = details;
    const grant = details.grantId ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return provider.interactionFinished(req, res, { error: 'access_denied' });
}

const callback = provider.callback();
http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((e) => { res.statusCode = 400; res.end(String(e)); });
  } else {
    callback(req, res);
  }
}).listen(PORT, '127.0.0.1', () => console.log(`oidc-provider listening on ${ISSUER}`));
