/** Placeholder until the PostgreSQL adapter lands. */
export class PostgresStore {
  constructor(_url: string, _options: { poolSize: number }) {
    throw new Error('DATABASE_URL: the PostgreSQL adapter is not available in this build');
  }
}
