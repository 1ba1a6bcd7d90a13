// Measures, on one core, the two costs that bound the token and login endpoints:
// - signatures per second of the configured JWT algorithm over a realistic access-token
//   signing input (node:crypto, synchronous: the pure cost, no thread hop);
// - the time of one argon2id hash with the server's parameters (@node-rs/argon2, the server's
//   own library).
// Prints JSON. Run in its own process while nothing else of the benchmark runs.
import { hash } from '@node-rs/argon2';
import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

const { alg, memoryKib, timeCost, parallelism, seconds } = JSON.parse(process.argv[2]);

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const signingInput =
  b64({ alg, kid: 'k'.repeat(22), typ: 'at+jwt' }) +
  '.' +
  b64({
    sid: 's'.repeat(26),
    roles: [],
    email_verified: false,
    iss: 'http://127.0.0.1:3000',
    aud: 'latchkey',
    sub: 'u'.repeat(26),
    jti: '00000000-0000-4000-8000-000000000000',
    iat: now,
    exp: now + 900,
  });
const data = Buffer.from(signingInput);

function signer() {
  switch (alg) {
    case 'RS256': {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      return () => sign('sha256', data, privateKey);
    }
    case 'ES256': {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return () => sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    }
    case 'EdDSA': {
      const { privateKey } = generateKeyPairSync('ed25519');
      return () => sign(null, data, privateKey);
    }
    case 'HS256': {
      const secret = randomBytes(32);
      return () => createHmac('sha256', secret).update(data).digest();
    }
    default:
      throw new Error(`unknown alg ${alg}`);
  }
}

const signOnce = signer();
for (let i = 0; i < 50; i++) signOnce(); // warm-up
let n = 0;
const t0 = performance.now();
const until = t0 + seconds * 1000;
while (performance.now() < until) {
  for (let i = 0; i < 20; i++) signOnce();
  n += 20;
}
const signaturesPerSecond = n / ((performance.now() - t0) / 1000);

const params = { algorithm: 2 /* Argon2id */, memoryCost: memoryKib, timeCost, parallelism };
await hash('warm-up password', params);
const times = [];
for (let i = 0; i < 9; i++) {
  const h0 = performance.now();
  await hash(`correct horse battery ${i}`, params);
  times.push(performance.now() - h0);
}
times.sort((a, b) => a - b);
const argon2Ms = times[Math.floor(times.length / 2)];

process.stdout.write(JSON.stringify({ alg, signaturesPerSecond, argon2Ms, argon2Params: { memoryKib, timeCost, parallelism } }));
