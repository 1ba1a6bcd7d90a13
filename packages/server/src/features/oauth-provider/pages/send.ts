import type { FastifyReply } from 'fastify';
import type { OAuthBrandingConfig } from '../../../config.js';
import { newNonce, pageHeaders } from './headers.js';
import type { PageContext } from './layout.js';

/** What renders a page: one of the pages' render functions, given this response's context. */
export type PageRenderer = (page: PageContext) => string;

/**
 * Sends a page from a Fastify route: a new nonce, the security headers, the HTML.
 *
 * @example
 * return sendPage(reply, ctx.config.oauthBranding, 400, (page) => renderError(page, EXPIRED_INTERACTION));
 */
export function sendPage(reply: FastifyReply, brand: OAuthBrandingConfig, status: number, render: PageRenderer): FastifyReply {
  const nonce = newNonce();
  return reply.code(status).headers(pageHeaders(nonce)).send(render({ brand, nonce }));
}

/** The part of a Koa context (oidc-provider's hooks: renderError, logoutSource) a page is written to. */
export interface KoaLikeContext {
  status: number;
  type: string;
  body: unknown;
  set(field: string, value: string): void;
}

/**
 * Writes a page into oidc-provider's Koa context (its renderError, logoutSource and
 * postLogoutSuccessSource hooks): the same headers as every other page.
 */
export function writeKoaPage(koa: KoaLikeContext, brand: OAuthBrandingConfig, status: number, render: PageRenderer): void {
  const nonce = newNonce();
  for (const [name, value] of Object.entries(pageHeaders(nonce))) koa.set(name, value);
  koa.status = status;
  koa.type = 'html';
  koa.body = render({ brand, nonce });
}
