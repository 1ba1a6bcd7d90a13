import { describe, expect, it } from 'vitest';
import { bearer, createTestApp, registerAndLogin } from '../../support/helpers.js';
import { freePort } from '../../support/server-process.js';

const TOKEN = 'scrape-token-0123456789abcdef';


/** The value of one sample line, e.g. `latchkey_logins_total{result="failed"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics', () => {
  it('are off by default', async () => {
    const t = await createTestApp();
    try {
      expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
    } finally {
      await t.close();
    }
  });

  it('refuses a METRICS_TOKEN shorter than 16 characters', async () => {
    await expect(createTestApp({ METRICS_TOKEN: 'short' })).rejects.toThrow(/METRICS_TOKEN/);
  });

  it('with METRICS_TOKEN: bearer-protected, Prometheus text with the auth counters', async () => {
    const t = await createTestApp({ METRICS_TOKEN: TOKEN, RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_REGISTER: '2/1m', REFRESH_GRACE: '0' });
    try {
      expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
      expect((await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer('wrong-token-0123456789abcdef') })).statusCode).toBe(401);

      const u = await registerAndLogin(t.app, 'metered@example.com', 'correct horse battery staple');
      await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: u.email, password: 'wrong password' } });
      const rotated = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: u.refresh } });
      expect(rotated.statusCode).toBe(200);
      const reused = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: u.refresh } });
      expect(reused.json().code).toBe('REFRESH_TOKEN_REUSED');
      for (let i = 0; i < 3; i++) {
        await t.app.inject({ method: 'POST', url: '/auth/register', payload: { email: `m${i}@example.com`, password: 'correct horse battery staple' } });
      }

      const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer(TOKEN) });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/plain');
      const text = res.body;
      expect(sample(text, 'latchkey_logins_total{result="succeeded"}')).toBe(1);
      expect(sample(text, 'latchkey_logins_total{result="failed"}')).toBe(1);
      expect(sample(text, 'latchkey_refreshes_total{result="rotated"}')).toBe(1);
      expect(sample(text, 'latchkey_refreshes_total{result="reused"}')).toBe(1);
      expect(sample(text, 'latchkey_refresh_token_reuse_total')).toBe(1);
      // 1 registration in registerAndLogin + 3 here against a limit of 2: two refused.
      expect(sample(text, 'latchkey_rate_limited_total{bucket="register"}')).toBe(2);
      expect(sample(text, 'latchkey_http_requests_total{method="POST",route="/auth/login",status="200"}')).toBe(1);
      expect(sample(text, 'latchkey_http_requests_total{method="POST",route="/auth/login",status="400"}')).toBe(1);
      // The histogram counted the login (the +Inf bucket: no assumption about how fast it was).
      expect(text).toMatch(/latchkey_http_request_duration_seconds_bucket\{le="\+Inf",method="POST",route="\/auth\/login",status="200"\} 1/);
      expect(text).toMatch(/latchkey_http_request_duration_seconds_count\{method="POST",route="\/auth\/login",status="200"\} 1/);
      expect(sample(text, 'latchkey_hash_queue_depth')).toBe(0);
      expect(sample(text, 'latchkey_hash_active')).toBe(0);
      expect(text).toContain('latchkey_process_resident_memory_bytes');
      // Nothing secret in the scrape.
      expect(text).not.toContain(u.refresh);
      expect(text).not.toContain(u.email);
    } finally {
      await t.close();
    }
  });

  it('with METRICS_PORT: served on a separate listener, not on the main port', async () => {
    const port = await freePort();
    const t = await createTestApp({ METRICS_PORT: String(port), HOST: '127.0.0.1' });
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const main = (t.app.server.address() as { port: number }).port;
      expect((await fetch(`http://127.0.0.1:${main}/metrics`)).status).toBe(404);
      await fetch(`http://127.0.0.1:${main}/health/live`);
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(sample(text, 'latchkey_http_requests_total{method="GET",route="/health/live",status="200"}')).toBe(1);
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      await t.close();
    }
  });
});
