/**
 * A request field's name for people: `new_password` -> "New password", `roles.0` -> "Roles".
 * Field errors start with it (docs/errors.md, "Field errors"), so a message read on its own, in a
 * form's banner or a terminal, still says which field it is about.
 *
 * @example
 * fieldLabel('current_password'); // 'Current password'
 */
export function fieldLabel(field: string): string {
  // The last named segment of a path: an array index says nothing to a person.
  const name = field.split('.').filter((s) => s !== '' && !/^\d+$/.test(s)).pop() ?? '';
  const words = name.replace(/_/g, ' ').trim();
  if (words === '' || words === '(body)') return 'The request body';
  return words[0]!.toUpperCase() + words.slice(1);
}
