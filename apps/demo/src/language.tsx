import type { ReactNode } from 'react';

/**
 * The languages Latchkey ships its mail in (docs/email.md, "Languages and templates"). The empty
 * value leaves the choice to the server: the browser's Accept-Language, else its DEFAULT_LOCALE.
 */
export const LANGUAGES: ReadonlyArray<{ value: string; label: string }> = [
  { value: '', label: 'Automatic (your browser’s language)' },
  { value: 'en', label: 'English' },
  { value: 'de', label: 'Deutsch' },
];

/** The language of the account's mail: a select of {@link LANGUAGES}. */
export function LanguageField({ value, onChange }: { value: string; onChange: (value: string) => void }): ReactNode {
  // A stored tag the demo does not list (set through the API, say `fr`) stays selectable as it is.
  const options = LANGUAGES.some((l) => l.value === value) ? LANGUAGES : [...LANGUAGES, { value, label: value }];
  return (
    <div className="field">
      <label htmlFor="field-locale">Mail language</label>
      <select id="field-locale" name="locale" value={value} onChange={(e) => onChange(e.target.value)}>
        {options.map((l) => (
          <option key={l.value} value={l.value}>
            {l.label}
          </option>
        ))}
      </select>
      <p className="hint">The language of the mail we send you: sign-in links, confirmations, notices.</p>
    </div>
  );
}
