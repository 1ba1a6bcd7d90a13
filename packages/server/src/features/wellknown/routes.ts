import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';

const jwkSchema = {
  type: 'object',
  required: ['kty', 'kid', 'alg', 'use'],
  additionalProperties: true,
  properties: {
    kty: { type: 'string' },
    kid: { type: 'string' },
    alg: { type: 'string' },
    use: { type: 'string', enum: ['sig'] },
    n: { type: 'string' },
    e: { type: 'string' },
    crv: { type: 'string' },
    x: { type: 'string' },
    y: { type: 'string' },
  },
} as const;

/** Fields of a public JWK; anything else (a private member) is never serialised. */
const PUBLIC_MEMBERS = ['kty', 'kid', 'alg', 'use', 'n', 'e', 'crv', 'x', 'y'] as const;

/**
 * Where the routes are, as an absolute URL: ISSUER plus the mount prefix, unless ISSUER already
 * ends with it (an embedded Latchkey at /identity may well use ISSUER=https://shop.example/identity,
 * which is where OpenID discovery expects its document).
 */
export function endpointRoot(issuer: string, prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '');
  if (trimmed === '' || issuer.endsWith(trimmed)) return issuer;
  return issuer + trimmed;
}

export async function wellKnownRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext; mountPrefix?: string }): Promise<void> {
  const { ctx } = opts;
  const base = ctx.config.tokens.issuer;

  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['discovery'],
        summary: 'Public signing keys (JWKS)',
        response: {
          200: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: jwkSchema } } },
        },
      },
    },
    async (_request, reply) => {
      // Short cache: verifiers refetch on an unknown kid anyway, and rotation keeps old keys.
      void reply.header('cache-control', 'public, max-age=60');
      const keys = ctx.keys.jwks.keys.map((k) => {
        const out: Record<string, unknown> = {};
        for (const m of PUBLIC_MEMBERS) if (k[m] !== undefined) out[m] = k[m];
        return out;
      });
      return { keys };
    },
  );

  // With OAUTH_PROVIDER on, the provider's discovery document is served here instead (oauth-provider/mount.ts).
  if (ctx.config.oauth.provider) return;
  app.get(
    '/.well-known/openid-configuration',
    {
      schema: {
        tags: ['discovery'],
        summary: 'Discovery document',
        response: {
          200: {
            type: 'object',
            additionalProperties: true,
            properties: {
              issuer: { type: 'string' },
              jwks_uri: { type: 'string' },
              token_endpoint: { type: 'string' },
              userinfo_endpoint: { type: 'string' },
              revocation_endpoint: { type: 'string' },
              grant_types_supported: { type: 'array', items: { type: 'string' } },
              token_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
              id_token_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    async () => {
      const root = endpointRoot(base, opts.mountPrefix ?? '');
      return {
        issuer: base,
        jwks_uri: `${root}/.well-known/jwks.json`,
        token_endpoint: `${root}/auth/login`,
        userinfo_endpoint: `${root}/auth/me`,
        revocation_endpoint: `${root}/auth/logout`,
        grant_types_supported: ['password', 'refresh_token'],
        token_endpoint_auth_methods_supported: ['none'],
        id_token_signing_alg_values_supported: [ctx.config.tokens.jwtAlg],
      };
    },
  );
}
