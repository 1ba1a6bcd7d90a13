import { loadConfig, readEnvironment } from '@latchkey/server';
import { buildShop } from './app.js';

// Same environment variables as the standalone server (PORT, DATABASE_URL, ISSUER, ...).
const config = loadConfig(readEnvironment());
const app = await buildShop(config);
await app.listen({ port: config.port, host: config.host });
