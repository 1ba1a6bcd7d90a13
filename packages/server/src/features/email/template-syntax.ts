/**
 * The mail templates' syntax, kept tiny on purpose: an operator's template file can insert
 * values and show or hide a passage, and nothing else. No expressions, no includes, no helpers,
 * no code: a template cannot read a file or run anything.
 *
 *   {{name}}                 the value of `name` (escaped for the part: HTML-escaped in the HTML part)
 *   {{#name}}...{{/name}}    the passage only when `name` is not empty
 *   {{^name}}...{{/name}}    the passage only when `name` is empty
 *
 * Variable names are lower-case letters, digits and `_`. Anything else between `{{` and `}}`,
 * a `{{` without its `}}`, or a section left open or closed twice is a syntax error.
 */

export type TemplateNode =
  | { kind: 'text'; text: string }
  | { kind: 'var'; name: string }
  | { kind: 'section'; name: string; inverted: boolean; children: TemplateNode[] };

/** A parsed template part and the variables it uses (in sections too). */
export interface CompiledTemplate {
  readonly nodes: readonly TemplateNode[];
  readonly variables: ReadonlySet<string>;
}

/** A template that cannot be used; `message` says where (line) and what. */
export class TemplateSyntaxError extends Error {
  override name = 'TemplateSyntaxError';
}

const TAG = /\{\{\s*([#^/]?)\s*([^{}]*?)\s*\}\}/g;
const VARIABLE = /^[a-z][a-z0-9_]*$/;

function lineOf(source: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Parses one template part.
 *
 * @example
 * const t = parseTemplate('Hello{{#name}} {{name}}{{/name}},');
 * renderTemplate(t, { name: 'Ada' }, (v) => v); // 'Hello Ada,'
 */
export function parseTemplate(source: string): CompiledTemplate {
  const root: TemplateNode[] = [];
  // Sections still open, with where they opened (the line is counted only for an error message).
  const open: Array<{ name: string; children: TemplateNode[]; at: number }> = [];
  const variables = new Set<string>();
  let current = root;
  let last = 0;
  const pushText = (text: string) => {
    if (text.length === 0) return;
    if (text.includes('{{') || text.includes('}}')) {
      const at = last + Math.max(text.indexOf('{{'), text.indexOf('}}'));
      throw new TemplateSyntaxError(`line ${lineOf(source, at)}: unbalanced "{{" or "}}"`);
    }
    current.push({ kind: 'text', text });
  };
  for (const m of source.matchAll(TAG)) {
    pushText(source.slice(last, m.index));
    last = m.index;
    const [, sigil, name] = m as unknown as [string, string, string];
    if (!VARIABLE.test(name)) throw new TemplateSyntaxError(`line ${lineOf(source, m.index)}: "{{${sigil}${name}}}" is not a variable (lower-case letters, digits and _)`);
    variables.add(name);
    if (sigil === '') current.push({ kind: 'var', name });
    else if (sigil === '/') {
      const section = open.pop();
      if (!section || section.name !== name) {
        const opened = section ? `"{{#${section.name}}}" of line ${lineOf(source, section.at)}` : 'no open section';
        throw new TemplateSyntaxError(`line ${lineOf(source, m.index)}: "{{/${name}}}" closes ${opened}`);
      }
      current = open.length > 0 ? open[open.length - 1]!.children : root;
    } else {
      const children: TemplateNode[] = [];
      current.push({ kind: 'section', name, inverted: sigil === '^', children });
      open.push({ name, children, at: m.index });
      current = children;
    }
    last = m.index + m[0].length;
  }
  pushText(source.slice(last));
  const unclosed = open.pop();
  if (unclosed) throw new TemplateSyntaxError(`line ${lineOf(source, unclosed.at)}: "{{#${unclosed.name}}}" is never closed with "{{/${unclosed.name}}}"`);
  return { nodes: root, variables };
}

/** Fills a parsed part in; `escape` turns a value into what the part may hold (HTML-escaped, one line). */
export function renderTemplate(template: CompiledTemplate, values: Readonly<Record<string, string>>, escape: (value: string) => string): string {
  let out = '';
  const walk = (nodes: readonly TemplateNode[]) => {
    for (const node of nodes) {
      if (node.kind === 'text') out += node.text;
      else if (node.kind === 'var') out += escape(values[node.name] ?? '');
      else if ((values[node.name] ?? '') !== '' !== node.inverted) walk(node.children);
    }
  };
  walk(template.nodes);
  return out;
}
