export { buildApp, createLogger, type AppDeps } from './app.js';
export { latchkey, createContext, type LatchkeyOptions } from './plugin.js';
export {
  loadConfig,
  configFromSections,
  readEnvironment,
  ConfigError,
  parseDuration,
  CONFIG_SECTIONS,
  type Config,
  type ConfigSections,
  type HttpConfig,
  type StoreConfig,
  type TokensConfig,
  type SessionsConfig,
  type PasswordsConfig,
  type MailConfig,
  type RateLimitConfig,
  type FactorsConfig,
  type MetricsConfig,
  type HousekeepingConfig,
  type RateRule,
  type RateLimitBucket,
  type LogLevel,
  type SameSite,
  type SigningAlgorithm,
} from './config.js';
export { ERROR_CODES, AppError, type ErrorCode, type Problem } from './errors.js';
export { latchkeyFrameworkErrors } from './http/error-handler.js';
export { latchkeyClientErrorHandler } from './http/client-error.js';
export { openStore } from './store/index.js';
export { DatabaseUnavailableError } from './store/errors.js';
export type { Store, UserRecord, AuthUser, SessionRecord } from './store/types.js';
export type { AuthState } from './features/sessions/guard.js';
export type { LatchkeyContext } from './context.js';
export type { AccessTokenClaims } from './tokens/access-token.js';
export { systemClock, type Clock } from './clock.js';
