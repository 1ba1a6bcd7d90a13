// Runs once when the server starts. A wrong LATCHKEY_ISSUER, or a Latchkey that cannot be reached,
// stops the server with the reason, instead of a 401 (or a 500) for every request later.
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs' || process.env.NEXT_PHASE === 'phase-production-build') return;
  const { checkLatchkey } = await import('./lib/latchkey');
  try {
    await checkLatchkey();
  } catch (err) {
    console.error(`latchkey: ${(err as Error).message}`);
    process.exit(1);
  }
}
