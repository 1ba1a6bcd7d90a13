// The machine description and the Markdown report.
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';

export function describeMachine() {
  const list = cpus();
  return {
    hostname: hostname(),
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    totalMemGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${release()}`,
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const fmt = (x, digits = 0) =>
  x === null || x === undefined || Number.isNaN(x) ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (x) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x < 10 ? fmt(x, 2) : fmt(x, 1));
const mb = (bytes) => (bytes ? fmt(bytes / 2 ** 20, 0) : '–');

/** The results as Markdown: settings, the main table, targets, peers, start-up. */
export function renderMarkdown(r) {
  const m = r.machine;
  const out = [];
  out.push(`# Latchkey benchmark — ${r.startedAt}`);
  out.push('');
  out.push(
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.totalMemGiB} GiB, ${m.platform}, Node ${m.node}, host \`${m.hostname}\`. ` +
      `Load average at start: ${m.loadavgAtStart.join(' / ')}.`,
  );
  out.push('');
  out.push(
    `Settings: ${r.settings.mode} run; ${r.settings.warmupSeconds} s warm-up then ${r.settings.seconds} s per scenario; ` +
      `${r.settings.connections} connections; load generator ${r.settings.generator} (one thread, so it takes up to one ` +
      `of the ${m.cores} cores, on the same machine as the server); server started as \`npm start\` starts it (${Object.entries(r.settings.serverEnv ?? {}).map(([k, v]) => `${k}=${v} `).join('')}node ${(r.settings.nodeOptions ?? []).join(' ') || 'without options'}), LOG_LEVEL=${r.settings.logLevel}, ` +
      `JWT_ALG=${r.settings.alg}, rate limits on with limits the load cannot reach. Everything ran one after the other. ` +
      `"load" is the machine's 1-minute load average when the measurement started: above about 2 (the load generator ` +
      `and the server), other work was competing for the 2 cores and the row is disturbed.`,
  );
  out.push('');
  out.push(
    `Baseline (bare Fastify route returning \`{}\`, same Node): **${fmt(r.baseline.rps)} req/s** ` +
      `(measured ${r.baseline.samples.map((s) => fmt(s.rps)).join(' and ')} at the start and the end of the run; ratios use the mean, except (a) and (b): each is compared with the mean of the baseline measured again right before and right after it, listed under Targets, as this machine's speed drifts within a run), ` +
      `p50 ${ms(r.baseline.p50Ms)} ms, p99 ${ms(r.baseline.p99Ms)} ms, ${fmt(r.baseline.cpuUsPerRequest)} µs of server CPU per request. ` +
      `"Server CPU µs/req" is the server process's CPU time (all threads) over the measured run divided by the requests it answered: ` +
      `less disturbed by other load on the machine than req/s.`,
  );
  out.push(
    `Bounds measured at the start (and again right before (c) and (d), whose ratios use that adjacent measurement: ` +
      r.limitSamples.map((l) => `${l.label}: ${fmt(l.signaturesPerSecond)} sig/s/core, ${fmt(l.argon2Ms, 1)} ms/hash`).join('; ') +
      '). ' +
    `Signing bound at the start: ${m.cores} cores × ${fmt(r.limits.signaturesPerSecond)} ${r.limits.alg} signatures/s = ` +
      `**${fmt(r.limits.signingBound)} /s**. Hash bound: ${m.cores} cores / ${fmt(r.limits.argon2Ms, 1)} ms per argon2id hash ` +
      `(m=${r.limits.argon2Params.memoryKib}, t=${r.limits.argon2Params.timeCost}, p=${r.limits.argon2Params.parallelism}) = ` +
      `**${fmt(r.limits.hashBound)} /s**.`,
  );
  out.push('');
  out.push('| scenario | db | req/s | p50 ms | p99 ms | server CPU µs/req | peak RSS MB | ratio | of | target | met | load |');
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---|---|---|---:|');
  for (const s of r.scenarios) {
    out.push(
      `| ${s.label} | ${s.db ?? ''} | ${fmt(s.rps)} | ${ms(s.p50Ms)} | ${ms(s.p99Ms)} | ${s.cpuUsPerRequest ? fmt(s.cpuUsPerRequest) : '–'} | ${mb(s.peakRss)} | ` +
        `${s.ratio === undefined ? '' : fmt(s.ratio, 2)} | ${s.ratioOf ?? ''} | ${s.target ?? ''} | ${s.met === undefined ? '' : s.met ? 'yes' : '**no**'} | ${s.loadavg1 === undefined ? '' : fmt(s.loadavg1, 1)} |`,
    );
  }
  const withErrors = r.scenarios.filter((s) => s.errors > 0);
  if (withErrors.length) {
    out.push('');
    out.push('Requests that failed (non-2xx, socket errors or timeouts): ' + withErrors.map((s) => `${s.label} ${s.db ?? ''}: ${s.errors}${s.errorSample ? ` (a sample answer: ${s.errorSample.replace(/\|/g, '/')})` : ''}`).join('; ') + '.');
  }
  out.push('');
  out.push('Targets:');
  out.push('');
  for (const t of r.targets) out.push(`- ${t.met ? 'met' : '**missed**'}: ${t.text}`);
  out.push('');
  if (r.startup.length) {
    out.push('Start-up, from process spawn to the first 200 from /health/ready (5 ms polling):');
    out.push('');
    out.push('| db | database | runs | median ms | max ms | peak RSS MB |');
    out.push('|---|---|---:|---:|---:|---:|');
    for (const s of r.startup) out.push(`| ${s.db} | ${s.kind} | ${s.times.length} | ${fmt(s.medianMs)} | ${fmt(s.maxMs)} | ${mb(s.peakRss)} |`);
    out.push('');
  }
  if (r.revocations?.length) {
    out.push('Revocation feed (r): time from a logout answered by Latchkey to the first 401 of a service protected by `@latchkey/verify` that follows the feed, logouts one after the other, each after a random pause of 0–500 ms (so that they do not fall in step with the server’s look for new entries):');
    out.push('');
    out.push('| db | Latchkey instances | via | logouts | p50 ms | p99 ms | max ms | mean ms | load |');
    out.push('|---|---:|---|---:|---:|---:|---:|---:|---:|');
    for (const x of r.revocations) {
      out.push(`| ${x.db} | ${x.instances} | ${x.via} | ${x.count} | ${ms(x.p50Ms)} | ${ms(x.p99Ms)} | ${ms(x.maxMs)} | ${ms(x.meanMs)} | ${fmt(x.loadavg1, 1)} |`);
    }
    out.push('');
  }
  const rm = r.revocationMemory;
  if (rm) {
    out.push(
      `Revocation feed memory (r-mem): the verify process holding ${fmt(rm.held)} revoked sessions (${fmt(rm.entries)} revoked through \`DELETE /auth/sessions/{id}\` in ${fmt(rm.revokeSeconds, 1)} s): ` +
        `V8 heap after a GC ${mb(rm.heapBefore)} → ${mb(rm.heapAfter)} MB (${fmt(rm.bytesPerEntry)} bytes per entry), RSS ${mb(rm.rssBefore)} → ${mb(rm.rssAfter)} MB, peak RSS ${mb(rm.peakRss)} MB. ` +
        `A second service started then read all ${fmt(rm.lateHeld)} and was ready (listening) ${fmt(rm.lateReadyMs)} ms after its spawn; heap ${mb(rm.lateHeap)} MB, RSS ${mb(rm.lateRss)} MB. ` +
        (rm.paging ? `Reading the same feed from the bench process alone (${rm.paging.pages} pages of 1,000) took ${fmt(rm.paging.ms)} ms.` : ''),
    );
    out.push('');
  }
  if (r.notes.length) {
    out.push('Notes:');
    out.push('');
    for (const n of r.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}
