/**
 * What makes the docs page Latchkey's rather than the framework's: the name and logo in the top
 * bar, the tab's title and icon, and a style sheet that leaves out of the Authorize dialog the
 * fields that do nothing here. Served as files by @fastify/swagger-ui (its `logo` and `theme`
 * options), so the page's CSP needs no new inline style or script.
 */

/** The key mark of the console's favicon (packages/console/src/favicon.svg). */
const MARK =
  '<rect width="32" height="32" rx="7" fill="#2454d6"/><circle cx="13" cy="16" r="6" fill="none" stroke="#fff" stroke-width="3"/>' +
  '<path d="M18 16h9v5M23 16v4" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"/>';

/** The tab's icon. */
export const DOCS_FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">${MARK}</svg>`;

/**
 * The top bar's logo (on Swagger UI's dark bar, 40 px high): the mark and the name, with a
 * <title> so that the image has a text equivalent.
 */
export const DOCS_LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 40" width="200" height="40" role="img" aria-label="Latchkey API">' +
  '<title>Latchkey API</title>' +
  `<g transform="translate(0 4)">${MARK}</g>` +
  // One text run, so that "API" follows the name whatever the width of the system font.
  '<text x="42" y="28" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="22" font-weight="600" fill="#fff">' +
  'Latchkey<tspan dx="7" font-weight="400" fill="#a8b8e8">API</tspan></text>' +
  '</svg>';

/** The tab's title. */
export const DOCS_TITLE = 'Latchkey API';

/**
 * The Authorize dialog keeps what works: the sign-in form of the OAuth2 password flow (email as
 * username, and password) and the bearer token field. Swagger UI always adds, for that flow, the
 * client credentials (location, client_id, client_secret: Latchkey has no OAuth clients, they
 * would be sent and ignored) and a text about scopes (there are none); those are hidden here. The
 * cookie scheme is left out of the page's copy of the document instead (`forTheDocsPage`).
 */
export const DOCS_STYLE_SHEET = [
  '.auth-container .scope-def { display: none; }',
  '.auth-container .wrapper:has(> label[for="password_type"]),',
  '.auth-container .wrapper:has(> label[for^="client_id"]),',
  '.auth-container .wrapper:has(> label[for^="client_secret"]) { display: none; }',
  '',
].join('\n');
