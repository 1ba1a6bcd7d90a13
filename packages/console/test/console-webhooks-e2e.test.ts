import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inFreshProfile, REPO_ROOT, startConsole, type ConsoleHarness } from './harness.js';

// The console's webhook pages, in Debian's Chromium against a real Latchkey (real SQLite file, its
// delivery worker on) and a real receiver on 127.0.0.1 (WEBHOOK_ALLOW_PRIVATE=true): an admin
// creates an endpoint (the secret shown once, copied), changes its event types, disables and
// enables it, sends a test event that the receiver gets signed with that secret, redelivers it,
// rotates the secret and deletes the endpoint; each action is in the audit log.

const ADMIN_PASSWORD = 'admin passphrase for the webhooks e2e test';
const RESULTS = join(REPO_ROOT, 'test-results', 'console');

interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
}

let h: ConsoleHarness;
let adminEmail: string;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        id: String(req.headers['webhook-id']),
        timestamp: String(req.headers['webhook-timestamp']),
        signature: String(req.headers['webhook-signature']),
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/latchkey`;
  h = await startConsole({ WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_INTERVAL: '100ms' });
  const { store, hasher, clock } = h.server.app.latchkey;
  adminEmail = `admin-${randomUUID().slice(0, 8)}@example.com`;
  await store.createUser({
    id: randomUUID(),
    email: adminEmail,
    name: 'Ada Admin',
    passwordHash: await hasher.hash(ADMIN_PASSWORD),
    roles: ['admin'],
    emailVerified: true,
    createdAt: clock(),
  });
});

afterAll(async () => {
  await h?.close();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});

/** Standard Webhooks: base64 HMAC-SHA256, keyed by the secret's bytes, of `id.timestamp.body`. */
function signed(secret: string, r: Received): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${r.id}.${r.timestamp}.${r.body}`).digest('base64');
  return r.signature.split(' ').includes(`v1,${expected}`);
}

describe('webhooks in the console', () => {
  it('creates an endpoint (secret shown once), edits, disables and enables it, sends a signed test event, redelivers, rotates the secret and deletes it', async () => {
    let secret = '';
    let endpointId = '';
    await inFreshProfile(
      h,
      'console webhooks',
      async (context) => {
        const page = await context.newPage();
        await page.setViewportSize({ width: 1300, height: 900 });
        await page.goto(h.url);
        await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
        await page.getByLabel('Email', { exact: true }).fill(adminEmail);
        await page.getByLabel('Password').fill(ADMIN_PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByTestId('signed-in-as').filter({ hasText: adminEmail }).waitFor();

        await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Webhooks' }).click();
        await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
        await page.getByText('No endpoints yet').waitFor();

        // Create: the secret is shown once, with a Copy button.
        await page.getByRole('button', { name: 'New endpoint' }).click();
        const form = page.getByRole('form', { name: 'New webhook endpoint' });
        await form.getByLabel('URL').fill(receiverUrl);
        await form.getByLabel('Description').fill('CRM sync');
        await form.getByRole('checkbox', { name: 'user.created' }).check();
        await form.getByRole('button', { name: 'Create endpoint' }).click();
        const shown = page.getByTestId('webhook-secret');
        await shown.waitFor();
        secret = (await shown.textContent())!.trim();
        expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
        await page.getByRole('button', { name: 'Copy' }).click();
        await page.getByRole('button', { name: 'Copied' }).waitFor();
        expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
        await page.getByRole('button', { name: 'I have saved it' }).click();
        await shown.waitFor({ state: 'detached' });
        const row = page.getByRole('table', { name: 'Webhook endpoints' }).locator('tbody tr');
        await row.getByText('Enabled').waitFor();
        endpointId = (await row.first().getAttribute('data-webhook-id'))!;

        // The endpoint's page: event types, disable, enable.
        await page.getByRole('link', { name: receiverUrl }).click();
        await page.getByRole('heading', { name: receiverUrl }).waitFor();
        const settings = page.getByRole('form', { name: 'Endpoint settings' });
        expect(await settings.getByRole('checkbox', { name: 'user.created' }).isChecked()).toBe(true);
        await settings.getByRole('checkbox', { name: 'user.deleted' }).check();
        await settings.getByRole('button', { name: 'Save' }).click();
        await page.getByRole('status').filter({ hasText: 'Endpoint saved.' }).waitFor();
        await page.getByRole('button', { name: 'Disable', exact: true }).click();
        await page.getByRole('status').filter({ hasText: 'Endpoint disabled.' }).waitFor();
        await page.getByText('Disabled', { exact: true }).waitFor();
        await page.getByRole('button', { name: 'Enable', exact: true }).click();
        await page.getByRole('status').filter({ hasText: 'Endpoint enabled.' }).waitFor();

        // A test event: the worker delivers it to the receiver, signed with the secret shown at creation.
        await page.getByRole('button', { name: 'Send test event' }).click();
        await page.getByRole('status').filter({ hasText: 'Test event queued' }).waitFor();
        const deliveries = page.getByRole('table', { name: 'Deliveries' });
        await deliveries.getByText('webhook.test').waitFor();
        await expect
          .poll(async () => {
            await page.getByRole('button', { name: 'Refresh' }).click();
            return deliveries.locator('tbody tr').first().textContent();
          }, { timeout: 15_000 })
          .toContain('succeeded');
        expect(received).toHaveLength(1);
        expect(signed(secret, received[0]!)).toBe(true);
        expect(JSON.parse(received[0]!.body)).toMatchObject({ type: 'webhook.test' });

        // Redeliver: the same event (same webhook-id) again.
        await deliveries.getByRole('button', { name: 'Redeliver' }).first().click();
        await page.getByRole('status').filter({ hasText: 'Redelivery queued.' }).waitFor();
        await expect.poll(() => received.length, { timeout: 15_000 }).toBe(2);
        expect(received[1]!.id).toBe(received[0]!.id);
        mkdirSync(RESULTS, { recursive: true });
        await page.getByRole('button', { name: 'Refresh' }).click();
        await page.screenshot({ path: join(RESULTS, 'webhook-endpoint.png'), fullPage: true });

        // Rotate: a new secret, shown once, with the old one's end.
        await page.getByRole('button', { name: 'Rotate secret' }).click();
        await shown.waitFor();
        const rotated = (await shown.textContent())!.trim();
        expect(rotated).toMatch(/^whsec_/);
        expect(rotated).not.toBe(secret);
        await page.getByText('The previous secret keeps signing beside it until').waitFor();
        await page.getByRole('button', { name: 'I have saved it' }).click();

        // Delete, confirmed: back on the list, which is empty again.
        await page.getByRole('button', { name: 'Delete…' }).click();
        await page.getByRole('button', { name: 'Delete endpoint' }).click();
        await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
        await page.getByRole('status').filter({ hasText: `Deleted the endpoint ${receiverUrl}.` }).waitFor();
        await page.getByText('No endpoints yet').waitFor();
      },
      { permissions: ['clipboard-read', 'clipboard-write'] },
    );

    expect(h.problems).toEqual([]);
    const rows = await h.server.app.latchkey.store.listAudit({ actor: null, action: 'admin.webhook.*', target: endpointId, since: null, until: null, before: null, limit: 50 });
    expect(rows.map((r) => r.action).reverse()).toEqual([
      'admin.webhook.created',
      'admin.webhook.updated',
      'admin.webhook.updated',
      'admin.webhook.updated',
      'admin.webhook.tested',
      'admin.webhook.redelivered',
      'admin.webhook.secret_rotated',
      'admin.webhook.deleted',
    ]);
    expect(JSON.stringify(rows)).not.toContain(secret);
  });
});
