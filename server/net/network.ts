import { isIPv4, isIPv6 } from 'node:net';
import { bareAddress, expandIPv6 } from './address.js';

/**
 * The client network of an address, as the risk signals compare it: an IPv4 address by its /24
 * (`203.0.113.0/24`, also when IPv4-mapped, `::ffff:203.0.113.7`), an IPv6 address by its /48
 * (`2001:db8:1::/48`, one site's allocation). `null` when the address is unknown or not an IP
 * address (a request through `app.request()`, a Unix socket): no network signal then.
 *
 * @example
 * networkOf('198.51.100.23'); // '198.51.100.0/24'
 */
export function networkOf(address: string | null): string | null {
  if (address === null) return null;
  // Every authenticated request asks (server/risk/session-context.ts), mostly for the same few
  // addresses: remembered, up to a bound (a pure function of its argument, so never stale).
  const known = networks.get(address);
  if (known !== undefined) return known;
  const network = computeNetworkOf(address);
  if (networks.size >= maxRememberedNetworks) networks.clear();
  networks.set(address, network);
  return network;
}

const maxRememberedNetworks = 4096;
const networks = new Map<string, string | null>();

function computeNetworkOf(address: string): string | null {
  const bare = bareAddress(address);
  if (isIPv4(bare)) return `${bare.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(bare)) return null;
  const groups = expandIPv6(bare)
    .slice(0, 3)
    .map((g) => g.replace(/^0+(?=.)/, ''));
  return `${groups.join(':')}::/48`;
}

/**
 * `LIKE` patterns for lowercased textual addresses inside `network` (a cheap prefilter for the
 * database; the exact test is {@link networkOf}). An empty list means no usable prefilter.
 */
export function addressPatternsOf(network: string): string[] {
  const v4 = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(network);
  if (v4) return [`${v4[1]}.%`, `::ffff:${v4[1]}.%`];
  const first = network.split(':')[0] ?? '0';
  if (first === '0') return [];
  const padded = first.padStart(4, '0');
  return padded === first ? [`${first}:%`] : [`${first}:%`, `${padded}:%`];
}
