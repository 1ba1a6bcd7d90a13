/** The helpers every mail's values go through: escaping for HTML, flattening to one line, durations and times in words. */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an HTML element or a double- or single-quoted attribute. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** One line of plain text: control characters (line breaks included) become spaces. */
export function plainLine(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/**
 * A duration in words, in `locale` (Intl's unit names: "24 hours", "24 Stunden"; English where
 * the runtime has no data for the locale). Whole days read better as hours up to two days.
 *
 * @example
 * describeDuration(90 * 60_000) // '1 hour 30 minutes'; describeDuration(7 * 86_400_000, 'de') // '7 Tage'
 */
export function describeDuration(ms: number, locale = 'en'): string {
  const totalMinutes = Math.max(1, Math.round(ms / 60_000));
  const days = Math.floor(totalMinutes / 1440);
  const hours = Math.floor((totalMinutes % 1440) / 60);
  const minutes = totalMinutes % 60;
  const unit = (n: number, u: 'day' | 'hour' | 'minute') =>
    n === 0 ? null : new Intl.NumberFormat(locale, { style: 'unit', unit: u, unitDisplay: 'long' }).format(n);
  if (days > 0 && days <= 2 && minutes === 0) return unit(days * 24 + hours, 'hour')!;
  return [unit(days, 'day'), unit(hours, 'hour'), unit(minutes, 'minute')].filter(Boolean).join(' ');
}

/** A moment as every mail shows it, whatever the language: "2026-12-05 16:10 UTC". */
export function describeTime(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}
