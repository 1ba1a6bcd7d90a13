import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { LatchkeyContext } from '../../context.js';
import { unwrap } from '../../http/failures.js';
import { problems } from '../../http/schemas.js';
import { auditQuery, exportAuditLines, listAuditPage, publicAuditEntry, type AuditFilterInput } from './service.js';

const adminSecurity: Array<Record<string, string[]>> = [{ OAuth2PasswordBearer: [] }, { BearerAuth: [] }];

const nullableString = { type: ['string', 'null'] } as const;

export const auditEntrySchema = {
  type: 'object',
  required: ['id', 'at', 'actor', 'action', 'target', 'changes', 'ip', 'user_agent', 'request_id'],
  properties: {
    id: { type: 'string' },
    at: { type: 'string', format: 'date-time' },
    actor: {
      type: 'object',
      required: ['type', 'id', 'email'],
      properties: {
        type: { type: 'string', enum: ['user', 'admin', 'system', 'cli'], description: 'cli: `latchkey users ...`; its id is the operating-system user who ran it' },
        id: nullableString,
        email: { ...nullableString, description: 'The actor’s address at the time' },
      },
    },
    action: { type: 'string', description: 'e.g. admin.user.updated, user.password.changed, session.reuse_detected (docs/audit.md)' },
    target: { type: 'object', required: ['type', 'id'], properties: { type: nullableString, id: nullableString } },
    changes: {
      type: ['object', 'null'],
      additionalProperties: true,
      description: '`{field: {from, to}}` for changed fields, or facts of the action; never a secret (a password change is `password: {changed: true}`)',
    },
    ip: nullableString,
    user_agent: nullableString,
    request_id: { ...nullableString, description: 'The request’s id, the access log’s `reqId`' },
  },
} as const;

const filterProperties = {
  actor: { type: 'string', maxLength: 320, description: 'The actor’s id or email address (exact)' },
  action: { type: 'string', maxLength: 100, description: 'An action (exact), or a prefix ending in `*`: `admin.*`' },
  target: { type: 'string', maxLength: 200, description: 'The target’s id (a user, session, factor, identity or webhook id)' },
  since: { type: 'string', maxLength: 40, description: 'From this instant on (ISO 8601 date or date-time)' },
  until: { type: 'string', maxLength: 40, description: 'Before this instant (ISO 8601 date or date-time)' },
} as const;

interface ListQuery extends AuditFilterInput {
  cursor?: string;
  limit?: string;
}

/** GET /admin/audit and its export. Registered in the admin scope (role admin, request.auth set). */
export async function auditRoutes(app: FastifyInstance, opts: { ctx: LatchkeyContext }): Promise<void> {
  const { ctx } = opts;
  const common = {
    tags: ['admin'],
    security: adminSecurity,
    description: 'Requires an access token of a user with the `admin` role (401 without a token, 403 without the role).',
  };

  app.get<{ Querystring: ListQuery }>(
    '/admin/audit',
    {
      schema: {
        ...common,
        summary: 'The audit log, newest first (filters, cursor paging)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...filterProperties,
            cursor: { type: 'string', maxLength: 200, description: 'next_cursor of the previous page (with the same filters)' },
            limit: { type: 'string', pattern: '^[0-9]{1,3}$', description: '1..200, default 50' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['entries', 'next_cursor'],
            properties: { entries: { type: 'array', items: auditEntrySchema }, next_cursor: { type: ['string', 'null'] } },
          },
          ...problems(401, 403, 422),
        },
      },
    },
    async (request) => {
      const { cursor, limit, ...filters } = request.query;
      const page = unwrap(await listAuditPage(ctx, filters, cursor ?? null, Math.min(200, Math.max(1, Number(limit ?? 50)))));
      return { entries: page.entries.map(publicAuditEntry), next_cursor: page.nextCursor };
    },
  );

  app.get<{ Querystring: AuditFilterInput }>(
    '/admin/audit/export',
    {
      schema: {
        ...common,
        summary: 'Export the audit log as JSON lines (streamed, newest first)',
        description:
          `${common.description} Every entry matching the filters, one AuditEntry per line (application/x-ndjson), ` +
          'read from the database in batches while it is sent: memory stays one batch whatever the size of the log.',
        querystring: { type: 'object', additionalProperties: false, properties: filterProperties },
        response: {
          200: {
            description: 'One AuditEntry (as in GET /admin/audit) per line',
            content: { 'application/x-ndjson': { schema: { type: 'string' } } },
          },
          ...problems(401, 403, 422),
        },
      },
    },
    async (request, reply) => {
      // The filters are checked before the first byte: a bad one is a 422, not a cut stream.
      const query = unwrap(auditQuery(request.query, null, 1));
      const stamp = new Date(ctx.clock()).toISOString().slice(0, 19).replace(/[:T]/g, '-');
      // A database failure half-way ends the stream early (the status has been sent): the lines
      // received are whole entries; a client sees the connection end without the last newline's peer.
      const body = Readable.from(exportAuditLines(ctx, query), { objectMode: false });
      body.on('error', (err) => ctx.log.error({ err, requestId: request.id }, 'audit export failed'));
      return reply
        .header('content-type', 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="latchkey-audit-${stamp}.jsonl"`)
        .send(body);
    },
  );
}
