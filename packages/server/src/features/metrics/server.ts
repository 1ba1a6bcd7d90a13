import { createServer, type Server } from 'node:http';
import type { LatchkeyContext } from '../../context.js';

/**
 * A separate listener for /metrics on METRICS_PORT (same HOST), without authentication: bind it
 * where only the scraper can reach it. Everything else on that port is 404.
 */
export function startMetricsServer(ctx: LatchkeyContext, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const registry = ctx.metrics.registry;
    if (!registry) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('metrics are not enabled\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
