// Runs once when the server starts. A wrong LATCHKEY_ISSUER, or a Latchkey that cannot be reached,
// stops the server with the reason, instead of a 401 (or a 500) for every request later.
export async function register() {
  // Node.js only (the check lives in lib/latchkey.ts), and not while `next build` runs.
  if (process.env.NEXT_RUNTIME === 'nodejs' && process.env.NEXT_PHASE !== 'phase-production-build') {
    const { checkLatchkeyOrExit } = await import('./lib/latchkey');
    await checkLatchkeyOrExit();
  }
}
