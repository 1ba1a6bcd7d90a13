import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command line the command cannot run: the message and the command's usage go to stderr. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** What parseArgs returns for these options (strict, positionals allowed). */
export type CommandArgs<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>>;

/**
 * Parses a command's arguments strictly: an unknown option, an option without its value, a value
 * given to a flag, or more or fewer positionals than the command takes is a UsageError naming
 * the problem (node's parseArgs says which option), with the command's usage.
 *
 * @example
 * const { values, positionals } = parseCommandArgs(args, { email: { type: 'string' } }, 'usage: latchkey users create --email EMAIL', { min: 0, max: 0 });
 */
export function parseCommandArgs<O extends Options>(
  args: string[],
  options: O,
  usage: string,
  positionals: { min: number; max: number } = { min: 0, max: 0 },
): CommandArgs<O> {
  let parsed: CommandArgs<O>;
  try {
    // Positionals are counted below, so that too many is reported with the command's words.
    parsed = parseArgs({ args, options, strict: true as const, allowPositionals: true as const });
  } catch (err) {
    // parseArgs names the option ("Unknown option '--mail'", "Option '--email <value>' argument missing").
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, '.'), usage);
  }
  const count = parsed.positionals.length;
  if (count < positionals.min) throw new UsageError('an argument is missing', usage);
  if (count > positionals.max) throw new UsageError(`unexpected argument "${parsed.positionals[positionals.max]}"`, usage);
  return parsed;
}
