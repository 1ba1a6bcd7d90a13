import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify from 'fastify';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { latchkey } from '../../src/plugin.js';
import { tempDir } from '../support/helpers.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const PARTS = ['body', 'querystring', 'params', 'headers'] as const;

/** The request schemas of every route Latchkey registers, by "METHOD url part". */
async function routeSchemas(): Promise<Map<string, object>> {
  const { dir, cleanup } = tempDir();
  const host = Fastify();
  const schemas = new Map<string, object>();
  host.addHook('onRoute', (route) => {
    const schema = (route.schema ?? {}) as Record<string, object | undefined>;
    for (const part of PARTS) if (schema[part]) schemas.set(`${String(route.method)} ${route.url} ${part}`, schema[part]);
  });
  try {
    await host.register(latchkey, { config: loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, LOG_LEVEL: 'silent', METRICS_TOKEN: 'metrics-token-0123456789' }) });
    await host.ready();
  } finally {
    await host.close();
    cleanup();
  }
  return schemas;
}

// The routes' validators are compiled without Ajv's meta-schema check (validateSchema: false,
// see plugin.ts), which saves start-up time; this is where a malformed schema is caught instead.
describe('route request schemas', () => {
  const ajv = addFormats(new Ajv({ strict: false }));

  it('every one is a valid JSON Schema', async () => {
    const schemas = await routeSchemas();
    expect(schemas.size).toBeGreaterThan(10);
    for (const [where, schema] of schemas) {
      expect(ajv.validateSchema(schema), `${where}: ${ajv.errorsText(ajv.errors)}`).toBe(true);
    }
  });

  it('the check is not a rubber stamp: a misspelt type or a string bound fails it', () => {
    expect(ajv.validateSchema({ type: 'object', properties: { email: { type: 'strng' } } })).toBe(false);
    expect(ajv.validateSchema({ type: 'string', minLength: '8' })).toBe(false);
  });
});
