/** The human-readable end-of-run report of an import. */
import type { ImportSummary } from './types.js';

function n(value: number): string {
  return value.toLocaleString('en-US');
}

/**
 * Counts, time, and the failures with their line numbers (the first `maxFailures`; the rest are
 * counted, and `--failures FILE` writes them all).
 */
export function formatSummary(s: ImportSummary, file: string, maxFailures = 50): string {
  const would = s.dryRun ? 'would be ' : '';
  const seconds = s.elapsedMs / 1000;
  const rate = seconds > 0 ? `, ${n(Math.round(s.rows / seconds))} rows/s` : '';
  const lines = [
    `${s.dryRun ? 'DRY RUN (nothing was written): ' : ''}import of ${file} (format ${s.format}, on conflict ${s.onConflict})`,
    `  rows read   ${n(s.rows)}`,
    `  imported    ${n(s.imported)}${s.imported ? ` ${would}created` : ''}`,
    `  updated     ${n(s.updated)}`,
    `  skipped     ${n(s.skipped)} (email already present: ${n(s.skippedReasons.exists)}, unchanged: ${n(s.skippedReasons.unchanged)})`,
    `  failed      ${n(s.failed)}`,
    `  time        ${seconds.toFixed(2)} s${rate}`,
  ];
  if (s.weakHashes > 0) {
    lines.push(
      `note: ${n(s.weakHashes)} ${would}written with a weak hash (bcrypt cost < 10, or argon2 below m=19 MiB × t=2); ` +
        'they log in as before and are re-hashed with argon2id at their next login',
    );
  }
  if (s.failures.length > 0) {
    lines.push('failures:');
    for (const f of s.failures.slice(0, maxFailures)) lines.push(`  line ${f.line}: ${f.reason}`);
    if (s.failures.length > maxFailures) {
      lines.push(`  ... and ${n(s.failures.length - maxFailures)} more (--failures FILE writes them all)`);
    }
  }
  return lines.join('\n') + '\n';
}
