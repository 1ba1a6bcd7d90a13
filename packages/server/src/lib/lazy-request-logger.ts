import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LevelWithSilent, LogFn } from 'pino';

type LevelMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
const LEVEL_METHODS: readonly LevelMethod[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** The parent logger: fastify's interface plus pino's level check. */
type ParentLogger = FastifyBaseLogger & { isLevelEnabled(level: string): boolean };

/**
 * A request's logger (`request.log`) whose pino child is only built when a line is actually
 * logged through it. Fastify builds a child logger for every request (its `reqId` binding),
 * about 1 µs per request, while most requests log nothing but their access line, which the app
 * writes through the root logger with `reqId` in the object (the same line).
 *
 * A call at a level the parent has disabled is dropped without building the child, unless the
 * route set its own log level (then the child decides).
 *
 * @example
 * Fastify({ loggerInstance, childLoggerFactory: (parent, bindings, opts) => new LazyRequestLogger(parent, bindings, opts) });
 */
export class LazyRequestLogger implements FastifyBaseLogger {
  declare fatal: LogFn;
  declare error: LogFn;
  declare warn: LogFn;
  declare info: LogFn;
  declare debug: LogFn;
  declare trace: LogFn;
  private built: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: ParentLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  /** The pino child, built on first use. */
  get logger(): FastifyBaseLogger {
    return (this.built ??= this.parent.child(this.bindings, this.options));
  }

  get level(): LevelWithSilent | string {
    return this.built?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: LevelWithSilent | string) {
    this.logger.level = level;
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }

  /** False when a call at `level` is sure to write nothing: it is then dropped without building the child. */
  mayLog(level: LevelMethod): boolean {
    return this.built !== undefined || this.options.level !== undefined || this.parent.isLevelEnabled(level);
  }
}

for (const method of LEVEL_METHODS) {
  Object.defineProperty(LazyRequestLogger.prototype, method, {
    value: function log(this: LazyRequestLogger, ...args: Parameters<LogFn>): void {
      if (this.mayLog(method)) this.logger[method](...args);
    },
    writable: true,
    configurable: true,
  });
}
