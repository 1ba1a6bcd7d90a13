// Load generation. wrk (C, Debian's package) is the default: one thread, so it takes at most one
// of the machine's cores and its latency figures have microsecond resolution. autocannon (npm)
// is the fallback when wrk is missing, or on request; it runs in its own process (one thread,
// no workers) and its latencies have 1 ms resolution.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './processes.mjs';

const execFileAsync = promisify(execFile);

/** `wrk` when Debian's wrk is installed, else `autocannon`. */
export function defaultGenerator() {
  return ['/usr/bin/wrk', '/usr/local/bin/wrk'].some((p) => existsSync(p)) ? 'wrk' : 'autocannon';
}

/**
 * @typedef {object} LoadSpec
 * @property {string} url           full URL on 127.0.0.1
 * @property {string} [method]
 * @property {Record<string,string>} [headers]
 * @property {string} [body]
 * @property {string[]} [refreshTokens]  chain mode: each request spends one token and the answer's
 *   `refresh_token` goes back in the pool (POST {refresh_token}); at least `connections` tokens
 * @property {string[]} [bearerTokens]  sent round-robin as `Authorization: Bearer <token>`
 * @property {string[]} [bodies]  each sent once, in order (POST, JSON), e.g. single-use signed
 *   assertions; past the end they start again (and are counted as errors when refused)
 * @property {number} connections
 * @property {number} seconds
 *
 * @typedef {object} LoadResult
 * @property {number} requests     answered requests
 * @property {number} rps          answered requests per second
 * @property {number} p50Ms
 * @property {number} p99Ms
 * @property {number} errors       non-2xx answers, socket errors and timeouts
 * @property {string} generator
 */

/** Runs one load and returns throughput and latency. */
export async function runLoad(generator, spec, tmpDir) {
  if (spec.bodies && generator !== 'wrk') throw new Error('a pool of single-use bodies needs wrk');
  return generator === 'wrk' ? runWrk(spec, tmpDir) : runAutocannon(spec);
}

let scriptSeq = 0;

function luaString(s) {
  return JSON.stringify(s); // a JSON string literal is a valid Lua string literal for ASCII input
}

async function runWrk(spec, tmpDir) {
  const url = new URL(spec.url);
  const lines = [];
  lines.push(`wrk.method = ${luaString(spec.method ?? 'GET')}`);
  for (const [k, v] of Object.entries(spec.headers ?? {})) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
  if (spec.body !== undefined) lines.push(`wrk.body = ${luaString(spec.body)}`);
  if (spec.refreshTokens) {
    const tokenFile = join(tmpDir, `tokens-${++scriptSeq}.txt`);
    writeFileSync(tokenFile, spec.refreshTokens.join('\n') + '\n');
    // One wrk thread, so one Lua state owns the pool: a spent token is replaced by the new one
    // from its answer, and the pool never runs dry while every answer carries a token.
    lines.push(
      `local pool = {}`,
      `for line in io.lines(${luaString(tokenFile)}) do if #line > 0 then pool[#pool + 1] = line end end`,
      `local hdrs = { ["content-type"] = "application/json" }`,
      `for k, v in pairs(wrk.headers) do hdrs[k] = v end`,
      `request = function()`,
      `  local t = table.remove(pool, 1) or "exhausted"`,
      `  return wrk.format("POST", ${luaString(url.pathname)}, hdrs, '{"refresh_token":"' .. t .. '"}')`,
      `end`,
      `response = function(status, headers, body)`,
      `  local t = body and body:match('"refresh_token":"([^"]+)"')`,
      `  if t then pool[#pool + 1] = t end`,
      `end`,
    );
  }
  if (spec.bearerTokens) {
    const tokenFile = join(tmpDir, `bearer-${++scriptSeq}.txt`);
    writeFileSync(tokenFile, spec.bearerTokens.join('\n') + '\n');
    lines.push(
      // Formatted in init(), once wrk has set the Host header and the path.
      `local reqs = {}`,
      `init = function(args)`,
      `  for line in io.lines(${luaString(tokenFile)}) do`,
      `    if #line > 0 then`,
      `      wrk.headers["authorization"] = "Bearer " .. line`,
      `      reqs[#reqs + 1] = wrk.format()`,
      `    end`,
      `  end`,
      `end`,
      `local i = 0`,
      `request = function()`,
      `  i = i % #reqs + 1`,
      `  return reqs[i]`,
      `end`,
    );
  }
  if (spec.bodies) {
    const bodyFile = join(tmpDir, `bodies-${++scriptSeq}.txt`);
    writeFileSync(bodyFile, spec.bodies.join('\n') + '\n');
    lines.push(
      `local reqs = {}`,
      `init = function(args)`,
      `  local hdrs = { ["content-type"] = "application/json" }`,
      `  for line in io.lines(${luaString(bodyFile)}) do`,
      `    if #line > 0 then reqs[#reqs + 1] = wrk.format("POST", ${luaString(url.pathname)}, hdrs, line) end`,
      `  end`,
      `end`,
      `local i = 0`,
      `request = function()`,
      `  i = i % #reqs + 1`,
      `  return reqs[i]`,
      `end`,
    );
  }
  lines.push(
    `done = function(summary, latency, requests)`,
    `  local e = summary.errors`,
    `  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\\n',`,
    `    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,`,
    `    latency:percentile(50), latency:percentile(99)))`,
    `end`,
  );
  const script = join(tmpDir, `load-${++scriptSeq}.lua`);
  writeFileSync(script, lines.join('\n') + '\n');
  const { stdout } = await execFileAsync(
    'wrk',
    ['-t1', `-c${spec.connections}`, `-d${spec.seconds}s`, '--timeout', '10s', '-s', script, spec.url],
    { maxBuffer: 1 << 20 },
  );
  const m = /WRKJSON (\{.*\})/.exec(stdout);
  if (!m) throw new Error(`wrk printed no result:\n${stdout}`);
  const r = JSON.parse(m[1]);
  return {
    requests: r.requests,
    rps: r.requests / (r.duration_us / 1e6),
    p50Ms: r.p50_us / 1000,
    p99Ms: r.p99_us / 1000,
    errors: r.errors,
    generator: 'wrk',
  };
}

async function runAutocannon(spec) {
  const child = spawn(process.execPath, [join(ROOT, 'bench/lib/autocannon-child.mjs'), JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`autocannon child exited with ${code}`);
  return JSON.parse(out);
}
