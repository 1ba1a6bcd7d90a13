import { isIPv6 } from 'node:net';

/** IPv6 networks kept per keyer; emptied when full (a flood of new addresses cannot grow it). */
const MAX_CACHED = 10_000;

/**
 * Turns a client IP (`request.ip`) into the key it is counted under by the rate limits and the
 * login backoff. IPv4 stays as it is. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a
 * dual-stack socket reports for an IPv4 client) is that IPv4 address. Any other IPv6 address is
 * masked to its first `ipv6Prefix` bits and written canonically (RFC 5952, lower case, longest
 * zero run as `::`) with the prefix: `2001:db8:1:2::/64`. Why: one ordinary IPv6 allocation is a
 * whole /64 (2^64 addresses), so counting per address would give its holder unlimited attempts.
 * A string that is no IP address at all is returned unchanged.
 *
 * The result is a key only: sessions and security events record the full address.
 *
 * @example
 * clientKey('2001:db8:1:2:aaaa::1', 64); // '2001:db8:1:2::/64'
 * clientKey('::ffff:192.0.2.1', 64); // '192.0.2.1'
 */
export function clientKey(ip: string, ipv6Prefix: number): string {
  // IPv4 (the common case): no colon, nothing to do.
  if (ip.indexOf(':') < 0) return ip;
  return ipv6Key(ip, ipv6Prefix) ?? ip;
}

/**
 * `clientKey` with the prefix fixed and IPv6 results remembered: the rate-limit hook runs on every
 * `/auth/*` request. IPv4 takes the fast path above and is never cached.
 *
 * @example
 * const keyOf = clientKeyer(config.rateLimit.rateLimitIpv6Prefix);
 * keyOf(request.ip);
 */
export function clientKeyer(ipv6Prefix: number): (ip: string) => string {
  const cache = new Map<string, string>();
  return (ip) => {
    if (ip.indexOf(':') < 0) return ip;
    let key = cache.get(ip);
    if (key === undefined) {
      if (cache.size >= MAX_CACHED) cache.clear();
      key = ipv6Key(ip, ipv6Prefix) ?? ip;
      cache.set(ip, key);
    }
    return key;
  };
}

function ipv6Key(raw: string, prefix: number): string | null {
  let ip = raw;
  // A zone (fe80::1%eth0) names the local interface, not the client: it does not make another client.
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  if (!isIPv6(ip)) return null;
  const words = parseIpv6(ip);
  if (words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0 && words[5] === 0xffff) {
    return `${words[6]! >> 8}.${words[6]! & 0xff}.${words[7]! >> 8}.${words[7]! & 0xff}`;
  }
  for (let i = 0; i < 8; i++) {
    const bits = Math.min(16, Math.max(0, prefix - 16 * i));
    words[i] = words[i]! & ((0xffff << (16 - bits)) & 0xffff);
  }
  const text = formatIpv6(words);
  return prefix === 128 ? text : `${text}/${prefix}`;
}

/** The 8 16-bit words of a valid IPv6 address (`isIPv6` said so), with an IPv4 tail if any. */
function parseIpv6(ip: string): number[] {
  const half = ip.indexOf('::');
  const head = half < 0 ? ip : ip.slice(0, half);
  const tail = half < 0 ? '' : ip.slice(half + 2);
  const toWords = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(parseInt(group, 16));
      }
    }
    return out;
  };
  const first = toWords(head);
  const last = toWords(tail);
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
}

/** RFC 5952: lower-case hex without leading zeros, the first longest run of 2+ zero words as `::`. */
function formatIpv6(words: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
