/**
 * The mail templates the server sends with: the built-in languages (builtin/), with the
 * operator's files from MAIL_TEMPLATES_DIR on top, every part parsed and checked once at
 * start-up. Layout of the directory (docs/email.md, "Languages and templates"):
 *
 *   <dir>/<locale>/<template>.subject.txt
 *   <dir>/<locale>/<template>.text.txt
 *   <dir>/<locale>/<template>.html
 *
 * A file replaces that part of the built-in template of that locale; a locale directory that is
 * not built in adds a language (a template it leaves out is sent in DEFAULT_LOCALE's language;
 * a template it gives must give all three parts). Anything wrong stops start-up with a
 * TemplateLoadError naming the file: an unknown locale, template or part, a variable the
 * template does not have, a required one (the link, the code) missing, bad syntax, a file that
 * cannot be read.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { normaliseLocale } from '../users/fields.js';
import { de } from './builtin/de.js';
import { en } from './builtin/en.js';
import type { TemplateSources } from './builtin/layout.js';
import { parseTemplate, TemplateSyntaxError, type CompiledTemplate } from './template-syntax.js';
import { isTemplateName, TEMPLATE_NAMES, TEMPLATE_PARTS, TEMPLATE_SPECS, variablesOf, type TemplateName, type TemplatePart } from './template-names.js';

/** The languages shipped with the server. */
export const BUILTIN_TEMPLATES: Readonly<Record<string, Record<TemplateName, TemplateSources>>> = { en, de };

export type CompiledParts = Readonly<Record<TemplatePart, CompiledTemplate>>;

/**
 * A template that cannot be used; `file` names it (a path, or `builtin:<locale>/<template>.<part>`),
 * `variable` the setting to fix.
 */
export class TemplateLoadError extends Error {
  override name = 'TemplateLoadError';
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly variable: 'MAIL_TEMPLATES_DIR' | 'DEFAULT_LOCALE' = 'MAIL_TEMPLATES_DIR',
  ) {
    super(file ? `${file}: ${problem}` : problem);
  }
}

const PART_BY_SUFFIX = Object.entries(TEMPLATE_PARTS).map(([part, suffix]) => ({ part: part as TemplatePart, suffix }));

/** Parses one part and checks its variables against the template's list. */
function compilePart(file: string, template: TemplateName, part: TemplatePart, source: string): CompiledTemplate {
  let compiled: CompiledTemplate;
  try {
    compiled = parseTemplate(source);
  } catch (err) {
    if (err instanceof TemplateSyntaxError) throw new TemplateLoadError(file, err.message);
    throw err;
  }
  const allowed = variablesOf(template);
  const unknown = [...compiled.variables].filter((v) => !Object.hasOwn(allowed, v));
  if (unknown.length > 0) {
    throw new TemplateLoadError(
      file,
      `unknown variable ${unknown.map((v) => `{{${v}}}`).join(', ')}; ${template} has ${Object.keys(allowed).map((v) => `{{${v}}}`).join(', ')}`,
    );
  }
  if (part !== 'subject') {
    const missing = TEMPLATE_SPECS[template].required.filter((v) => !compiled.variables.has(v));
    if (missing.length > 0) throw new TemplateLoadError(file, `the ${part} part must use ${missing.map((v) => `{{${v}}}`).join(' and ')}`);
  }
  return compiled;
}

/**
 * A template's parts, parsed when first used. The built-in ones are parsed lazily: start-up does
 * not pay for 39 parts per language (~15 ms before the JIT warms up), and a test parses and checks
 * them all (`compileBuiltins`). The operator's are parsed at start-up, to refuse a broken one.
 */
class TemplateEntry {
  private compiled: CompiledParts | undefined;
  constructor(private readonly make: () => CompiledParts) {}
  get parts(): CompiledParts {
    return (this.compiled ??= this.make());
  }
}

function builtinEntry(locale: string, name: TemplateName, s: TemplateSources): TemplateEntry {
  const at = (part: TemplatePart) => `builtin:${locale}/${name}${TEMPLATE_PARTS[part]}`;
  return new TemplateEntry(() => ({
    subject: compilePart(at('subject'), name, 'subject', s.subject),
    text: compilePart(at('text'), name, 'text', s.text),
    html: compilePart(at('html'), name, 'html', s.html),
  }));
}

/** Parses and checks every built-in template (a test runs it; the server parses each when first sent). */
export function compileBuiltins(): number {
  let parts = 0;
  for (const [locale, sources] of Object.entries(BUILTIN_TEMPLATES)) {
    for (const name of TEMPLATE_NAMES) parts += Object.keys(builtinEntry(locale, name, sources[name]).parts).length;
  }
  return parts;
}

function readTemplateFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new TemplateLoadError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Reads MAIL_TEMPLATES_DIR: locale -> template -> the parts it gives. */
function readOverrides(dir: string): Map<string, Map<TemplateName, Partial<Record<TemplatePart, CompiledTemplate>>>> {
  const out = new Map<string, Map<TemplateName, Partial<Record<TemplatePart, CompiledTemplate>>>>();
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    throw new TemplateLoadError(dir, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  for (const entry of entries.sort()) {
    const localeDir = join(dir, entry);
    if (entry.startsWith('.')) continue; // .git, editor files
    if (!statSync(localeDir).isDirectory()) {
      throw new TemplateLoadError(localeDir, 'expected only locale directories (e.g. de/, fr-ca/) in MAIL_TEMPLATES_DIR');
    }
    const locale = normaliseLocale(entry);
    if (!locale) throw new TemplateLoadError(localeDir, `"${entry}" is not a BCP 47 language tag such as en, de or fr-CA`);
    if (out.has(locale)) throw new TemplateLoadError(localeDir, `a second directory for the locale ${locale}`);
    const templates = new Map<TemplateName, Partial<Record<TemplatePart, CompiledTemplate>>>();
    out.set(locale, templates);
    let files: string[];
    try {
      files = readdirSync(localeDir);
    } catch (err) {
      throw new TemplateLoadError(localeDir, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    for (const fileName of files.sort()) {
      if (fileName.startsWith('.')) continue;
      const file = join(localeDir, fileName);
      const match = PART_BY_SUFFIX.find((p) => fileName.endsWith(p.suffix));
      if (!match) throw new TemplateLoadError(file, `expected <template>${Object.values(TEMPLATE_PARTS).join(', <template>')}`);
      const name = fileName.slice(0, -match.suffix.length);
      if (!isTemplateName(name)) throw new TemplateLoadError(file, `unknown template "${name}"; the templates are ${TEMPLATE_NAMES.join(', ')}`);
      const parts = templates.get(name) ?? {};
      parts[match.part] = compilePart(file, name, match.part, readTemplateFile(file));
      templates.set(name, parts);
    }
  }
  return out;
}

/**
 * Every language's templates, ready to render; built once (`loadMailTemplates`).
 *
 * @example
 * const templates = loadMailTemplates(config.mail.mailTemplatesDir, config.mail.defaultLocale);
 * templates.resolveLocale('de-AT'); // 'de'
 */
export class MailTemplates {
  constructor(
    private readonly byLocale: ReadonlyMap<string, ReadonlyMap<TemplateName, TemplateEntry>>,
    /** DEFAULT_LOCALE as resolved (a locale that has templates). */
    readonly defaultLocale: string,
  ) {}

  /** The locales that have templates, built-in and added, sorted. */
  get locales(): string[] {
    return [...this.byLocale.keys()].sort();
  }

  /**
   * The locale with templates that serves `tag`: the tag itself, else the tag without its last
   * subtag, and so on (`de-at` -> `de`); null when none has templates. Case-insensitive.
   */
  resolveLocale(tag: string | null | undefined): string | null {
    let t = tag?.trim().toLowerCase();
    while (t) {
      if (this.byLocale.has(t)) return t;
      const cut = t.lastIndexOf('-');
      t = cut > 0 ? t.slice(0, cut) : '';
    }
    return null;
  }

  /** The template of `locale` (a resolved one), else of DEFAULT_LOCALE (an added language may leave some out), else English. */
  template(name: TemplateName, locale: string): CompiledParts {
    return (this.byLocale.get(locale)?.get(name) ?? this.byLocale.get(this.defaultLocale)?.get(name) ?? this.byLocale.get('en')!.get(name))!.parts;
  }
}

/**
 * Builds the templates: the built-in languages, then MAIL_TEMPLATES_DIR's files over them.
 * Throws TemplateLoadError (naming the file) for anything wrong, and for a `defaultLocale` no
 * template serves.
 */
export function loadMailTemplates(dir: string | null, defaultLocale = 'en'): MailTemplates {
  const byLocale = new Map<string, Map<TemplateName, TemplateEntry>>();
  for (const [locale, sources] of Object.entries(BUILTIN_TEMPLATES)) {
    byLocale.set(locale, new Map(TEMPLATE_NAMES.map((name) => [name, builtinEntry(locale, name, sources[name])])));
  }
  if (dir !== null) {
    // Absolute, so that a message names the file wherever the server was started from.
    dir = resolve(dir);
    for (const [locale, templates] of readOverrides(dir)) {
      const base = byLocale.get(locale);
      const merged = new Map<TemplateName, TemplateEntry>(base ?? []);
      for (const [name, parts] of templates) {
        const builtIn = base?.get(name);
        const missing = (Object.keys(TEMPLATE_PARTS) as TemplatePart[]).filter((p) => !parts[p] && !builtIn);
        if (missing.length > 0) {
          const file = join(dir, locale, `${name}${TEMPLATE_PARTS[missing[0]!]}`);
          throw new TemplateLoadError(file, `missing: ${locale} has no built-in ${name}, so its ${missing.join(', ')} part(s) must be given too`);
        }
        merged.set(name, new TemplateEntry(() => ({ ...builtIn?.parts, ...parts }) as CompiledParts));
      }
      byLocale.set(locale, merged);
    }
  }
  const templates = new MailTemplates(byLocale, 'en');
  const resolved = templates.resolveLocale(defaultLocale);
  if (!resolved) {
    throw new TemplateLoadError(
      '',
      `no templates for "${defaultLocale}" (there are ${templates.locales.join(', ')}); add them as MAIL_TEMPLATES_DIR/${defaultLocale.toLowerCase()}/`,
      'DEFAULT_LOCALE',
    );
  }
  return new MailTemplates(byLocale, resolved);
}
