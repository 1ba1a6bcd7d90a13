// Runs one autocannon load in its own process (one thread, no workers) and prints a LoadResult
// as JSON. Used when wrk is not installed or with --load-generator autocannon.
import autocannon from 'autocannon';

/** @type {import('./load.mjs').LoadSpec} */
const spec = JSON.parse(process.argv[2]);

const opts = {
  url: spec.url,
  connections: spec.connections,
  duration: spec.seconds,
  method: spec.method ?? 'GET',
  headers: spec.headers ?? {},
  timeout: 10,
};
if (spec.body !== undefined) opts.body = spec.body;

if (spec.bearerTokens) {
  let i = 0;
  opts.requests = [
    {
      setupRequest: (req) => {
        i = (i + 1) % spec.bearerTokens.length;
        return { ...req, headers: { ...req.headers, authorization: `Bearer ${spec.bearerTokens[i]}` } };
      },
    },
  ];
}

if (spec.refreshTokens) {
  // The same pool as the wrk script: a spent token is replaced by the one in its answer.
  const pool = [...spec.refreshTokens];
  opts.method = 'POST';
  opts.headers = { ...opts.headers, 'content-type': 'application/json' };
  opts.requests = [
    {
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ refresh_token: pool.shift() ?? 'exhausted' }) }),
      onResponse: (_status, body) => {
        const m = /"refresh_token":"([^"]+)"/.exec(body);
        if (m) pool.push(m[1]);
      },
    },
  ];
}

const r = await autocannon(opts);
const errors = r.errors + r.timeouts + r.non2xx;
const seconds = r.duration;
process.stdout.write(
  JSON.stringify({
    requests: r.requests.total,
    rps: (r.requests.total) / seconds,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors,
    generator: 'autocannon',
  }),
);
