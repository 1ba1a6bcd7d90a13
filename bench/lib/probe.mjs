// A latency probe: a few keep-alive connections, each sending one request, waiting for the
// answer, pausing `pauseMs`, and so on, for `seconds`. It measures how quickly a light request
// is served (event-loop health) without saturating the server. Prints a JSON summary with
// latencies in milliseconds (microsecond resolution).
import { Agent, request } from 'node:http';

const spec = JSON.parse(process.argv[2]);
const { url, headers = {}, connections = 4, pauseMs = 5, seconds = 10 } = spec;

const agent = new Agent({ keepAlive: true, maxSockets: connections });
const latencies = [];
let errors = 0;
const end = performance.now() + seconds * 1000;

function once() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) latencies.push(performance.now() - t0);
        else errors++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

async function loop() {
  while (performance.now() < end) {
    await once();
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

await Promise.all(Array.from({ length: connections }, loop));
agent.destroy();
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : NaN);
process.stdout.write(
  JSON.stringify({ requests: latencies.length, rps: latencies.length / seconds, p50Ms: pct(50), p99Ms: pct(99), errors }),
);
