// The baseline every ratio is measured against: a bare Fastify route returning `{}`, on the same
// Node as the server, logging off, nothing else registered.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/', async () => ({}));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
