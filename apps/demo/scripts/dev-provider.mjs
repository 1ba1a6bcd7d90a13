// A local OpenID Connect provider for `DEMO_SOCIAL=1 npm run demo` (docs/social-login.md): the
// `oidc-provider` package (a devDependency, the one the tests sign in at) on 127.0.0.1 with its
// own signing key and its development login and consent pages. It signs in anyone: the login
// typed on its page is the account, and when it looks like an address it is the account's email,
// reported as verified. For trying the demo's "Sign in with Test IdP" only; never a real provider.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

/**
 * Starts the provider on `port`, with one client whose redirect URI is Latchkey's callback.
 * Resolves to its issuer URL and a close function.
 */
export async function startDevProvider({ port, clientId, clientSecret, redirectUri }) {
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'demo-idp', alg: 'RS256', use: 'sig' };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // The scope's claims in the ID token itself, as Google does.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true, methods: ['S256'] },
    async findAccount(_ctx, id) {
      const email = id.includes('@') ? id.trim().toLowerCase() : null;
      return {
        accountId: id,
        claims: async () => ({ sub: id, ...(email ? { email, email_verified: true } : {}), name: id }),
      };
    },
  });
  const server = createServer(provider.callback());
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    issuer,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
