import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../server/src/store/types.js';
import { inFreshProfile, REPO_ROOT, startConsole, type ConsoleHarness } from './harness.js';

// The console's audit log page, in Debian's Chromium against a real Latchkey (real SQLite file):
// an admin's change made in the console shows up in the log with its before and after; the filters
// and the pages ask the server; the export downloads the filtered entries as JSON lines.

const ADMIN_PASSWORD = 'admin passphrase for the audit e2e test';
const RESULTS = join(REPO_ROOT, 'test-results', 'console');

let h: ConsoleHarness;
let adminEmail: string;

beforeAll(async () => {
  h = await startConsole();
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
});

describe('the audit log in the console', () => {
  it('shows an admin change with its before and after, filters and pages on the server, and exports the filtered entries', async () => {
    const { store, clock } = h.server.app.latchkey;
    const userId = randomUUID();
    const email = `audited-${randomUUID().slice(0, 8)}@example.com`;
    await store.createUser({ id: userId, email, name: 'Audited', passwordHash: 'x', roles: [], emailVerified: true, createdAt: clock() });
    // 60 older entries of one CLI actor: more than one page (50) of the filtered log.
    const cliActor = `ops-${randomUUID().slice(0, 6)}`;
    const base = clock() - 10 * 86_400_000;
    for (let i = 0; i < 60; i++) {
      const entry: AuditRecord = {
        id: randomUUID(),
        at: base + i * 1000,
        actorType: 'cli',
        actorId: cliActor,
        actorEmail: null,
        action: 'admin.user.updated',
        targetType: 'user',
        targetId: userId,
        changes: { disabled: { from: i % 2 === 0, to: i % 2 !== 0 } },
        ip: null,
        userAgent: 'latchkey-cli',
        requestId: null,
      };
      await store.appendAudit(entry);
    }

    await inFreshProfile(h, 'console audit log', async (context) => {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1300, height: 900 });
      await page.goto(h.url);
      await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
      await page.getByLabel('Email', { exact: true }).fill(adminEmail);
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByTestId('signed-in-as').filter({ hasText: adminEmail }).waitFor();

      // A change made in the console: the account disabled.
      await page.goto(`${h.url}#/users/${userId}`);
      await page.getByRole('heading', { name: email }).waitFor();
      await page.getByRole('button', { name: 'Disable account' }).click();
      await page.getByRole('status').filter({ hasText: 'Account disabled' }).waitFor();

      // The log: the newest entry is that change, by this admin, with its before and after.
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Audit log' }).click();
      await page.getByRole('heading', { name: 'Audit log' }).waitFor();
      const table = page.getByRole('table', { name: 'Audit log' });
      const first = table.locator('tbody tr').first();
      await first.getByText('admin.user.updated').waitFor();
      await first.getByText(adminEmail).waitFor();
      await first.getByText('disabled: false → true').waitFor();
      await first.getByText('127.0.0.1').waitFor();

      // Filtered by the CLI actor: 50 on the first page, 10 on the second.
      await page.getByLabel('Actor').fill(cliActor);
      await page.getByTestId('audit-page-info').filter({ hasText: 'Page 1' }).waitFor();
      await expect.poll(() => table.locator('tbody tr').count()).toBe(50);
      await expect.poll(() => table.locator('tbody tr').first().textContent()).toContain(cliActor);
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByTestId('audit-page-info').filter({ hasText: 'Page 2' }).waitFor();
      await expect.poll(() => table.locator('tbody tr').count()).toBe(10);
      expect(await page.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
      await page.getByRole('button', { name: 'Previous' }).click();
      await page.getByTestId('audit-page-info').filter({ hasText: 'Page 1' }).waitFor();
      await expect.poll(() => table.locator('tbody tr').count()).toBe(50);

      // The export: the same filter, all 60, as JSON lines.
      mkdirSync(RESULTS, { recursive: true });
      await page.screenshot({ path: join(RESULTS, 'audit-log.png'), fullPage: true });
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export (JSON lines)' }).click()]);
      expect(download.suggestedFilename()).toMatch(/^latchkey-audit-.*\.jsonl$/);
      const file = join(RESULTS, 'audit-export.jsonl');
      await download.saveAs(file);
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { actor: { id: string }; action: string });
      expect(lines).toHaveLength(60);
      expect(lines.every((l) => l.actor.id === cliActor && l.action === 'admin.user.updated')).toBe(true);

      // An action filter that matches nothing of this actor.
      await page.getByLabel('Action').fill('admin.user.deleted');
      await page.getByText('No entries match these filters.').waitFor();
    });

    expect(h.problems).toEqual([]);
    const calls = h.calls.map((c) => `${c.method} ${c.path} ${c.status}`);
    expect(calls).toContain('GET /admin/audit 200');
    expect(calls).toContain('GET /admin/audit/export 200');
  });
});
