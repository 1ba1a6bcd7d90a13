#!/usr/bin/env node
// Summarises a .cpuprofile (from `node bench/run.mjs --cpu-prof`): self time by function and by
// package, and inclusive time of the functions that match an optional filter.
// Usage: node bench/profile-summary.mjs FILE.cpuprofile [--top=40] [--match=regex]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '40' }, match: { type: 'string' } } });
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const top = Number(values.top);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node from the samples and their time deltas.
const self = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  self.set(id, (self.get(id) ?? 0) + dt);
  total += dt;
});

function where(n) {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'npm:').replace(/.*\/packages\//, 'packages/');
  return `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber + 1}`;
}
function pkg(n) {
  const url = n.callFrame.url;
  if (!url) return n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const p = /packages\/([^/]+)\/(?:dist|src)\/(.*)/.exec(url);
  return p ? `${p[1]}/${p[2]}` : url;
}

const bySelf = new Map();
const byPkg = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  const k = where(n);
  bySelf.set(k, (bySelf.get(k) ?? 0) + t);
  const p = pkg(n);
  byPkg.set(p, (byPkg.get(p) ?? 0) + t);
}

const pct = (t) => ((100 * t) / total).toFixed(1).padStart(5) + '%';
const show = (title, map) => {
  console.log(`\n${title}`);
  for (const [k, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
};
console.log(`total sampled ${(total / 1000).toFixed(0)} ms`);
show('self time by package/file', byPkg);
show('self time by function', bySelf);

if (values.match) {
  // Inclusive time: a sample counts once for every distinct matching frame on its stack.
  const re = new RegExp(values.match);
  const incl = new Map();
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = where(byId.get(cur));
      if (re.test(k) && !seen.has(k)) {
        seen.add(k);
        incl.set(k, (incl.get(k) ?? 0) + dt);
      }
    }
  });
  show(`inclusive time of frames matching /${values.match}/`, incl);
}
