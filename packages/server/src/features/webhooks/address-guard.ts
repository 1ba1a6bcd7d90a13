/**
 * The SSRF guard of webhook delivery: which URLs and addresses an endpoint may have. Without
 * WEBHOOK_ALLOW_PRIVATE an endpoint is https, carries no credentials, and every address its host
 * resolves to is public: not private, loopback, link-local, CGNAT, multicast, reserved or
 * unspecified (IPv4, IPv6, and IPv4 inside IPv6). Checked at registration and again at every
 * delivery on the addresses the connection is made to: the sender's `lookup` (pinnedLookup)
 * checks what DNS answers and hands the socket only checked addresses, so a name that resolves
 * to a public address at registration and to 127.0.0.1 later (DNS rebinding) is refused then.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
  ['2001:db8::', 32], // documentation
  ['100::', 64], // discard
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped, -compatible or NAT64 IPv6 address; null otherwise. */
function embeddedIpv4(address: string): string | null {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1]!;
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return null;
}

/**
 * True when an address may be connected to without WEBHOOK_ALLOW_PRIVATE.
 *
 * @example
 * isPublicAddress('93.184.215.14'); // true
 * isPublicAddress('::ffff:127.0.0.1'); // false
 */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !blocked.check(address, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== null) return isIP(v4) === 4 && !blocked.check(v4, 'ipv4');
    return !blocked.check(address, 'ipv6');
  }
  return false;
}

/** Why a URL may not be an endpoint; null when it may. */
export function urlRefusal(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'The URL is not a valid absolute URL.';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'The URL must be https.';
  if (url.protocol === 'http:' && !allowPrivate) return 'The URL must be https (http only with WEBHOOK_ALLOW_PRIVATE=true).';
  if (url.username || url.password) return 'The URL must not carry credentials.';
  if (url.hash) return 'The URL must not have a fragment.';
  const host = hostOf(url);
  if (!allowPrivate && isIP(host) && !isPublicAddress(host)) return `The address ${host} is private, loopback or reserved.`;
  return null;
}

/** The URL's host without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** The addresses a host name resolves to (every A and AAAA answer), or the literal address itself. */
export async function resolveAll(host: string): Promise<LookupAddress[]> {
  if (isIP(host)) return [{ address: host, family: isIP(host) }];
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });
}

/** Thrown by the guard's lookup: the host resolved to an address that is not allowed. */
export class AddressNotAllowedError extends Error {
  override name = 'AddressNotAllowedError';
  readonly code = 'EADDRNOTALLOWED';
}

/**
 * Why the host's addresses may not be connected to, resolving it now; null when every one may.
 *
 * @example
 * await addressRefusal('localhost'); // 'The host localhost resolves to 127.0.0.1, which is not a public address.'
 */
export async function addressRefusal(host: string): Promise<string | null> {
  let addresses: LookupAddress[];
  try {
    addresses = await resolveAll(host);
  } catch {
    return `The host ${host} does not resolve.`;
  }
  const bad = addresses.find((a) => !isPublicAddress(a.address));
  return bad ? `The host ${host} resolves to ${bad.address}, which is not a public address.` : null;
}

/**
 * A `lookup` for http(s).request that resolves, refuses the whole answer when one address is not
 * public, and otherwise gives the socket exactly the checked addresses (so the connection goes
 * to an address that was checked, not to a second resolution).
 */
export const pinnedLookup: LookupFunction = (hostname, options, callback) => {
  resolveAll(hostname).then(
    (addresses) => {
      const bad = addresses.find((a) => !isPublicAddress(a.address));
      if (bad) {
        callback(new AddressNotAllowedError(`${hostname} resolves to ${bad.address}, which is not a public address`), '', 4);
        return;
      }
      const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
      if (wanted.length === 0) {
        callback(Object.assign(new Error(`${hostname} has no address of the family asked for`), { code: 'ENOTFOUND' }), '', 4);
        return;
      }
      if (options.all) (callback as unknown as (err: null, addresses: LookupAddress[]) => void)(null, wanted);
      else callback(null, wanted[0]!.address, wanted[0]!.family);
    },
    (err: NodeJS.ErrnoException) => callback(err, '', 4),
  );
};
