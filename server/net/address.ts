import { isIPv4, isIPv6 } from 'node:net';

/**
 * An address as written by a socket or a proxy, without the brackets of `[::1]` or an IPv6 zone
 * (`%eth0`), and an IPv4-mapped IPv6 address (`::ffff:203.0.113.7`) as its IPv4 address. The one
 * normalisation both the rate-limit key and the risk network start from.
 */
export function bareAddress(address: string): string {
  const bare = address
    .trim()
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  return mapped && isIPv4(mapped[1] as string) ? (mapped[1] as string) : bare;
}

/**
 * The key of a client address for rate limits: an IPv4 address as is (also when IPv4-mapped,
 * `::ffff:a.b.c.d`), an IPv6 address by its /64 prefix, since one subscriber usually holds a whole
 * /64 and could otherwise rotate through 2^64 addresses.
 */
export function addressKey(address: string): string {
  const bare = bareAddress(address);
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return `other:${bare.toLowerCase()}`;
  const groups = expandIPv6(bare);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/**
 * The eight groups of an IPv6 address, lowercase and four digits each (a trailing dotted IPv4 part
 * counts as two groups). Used to group addresses by prefix: /64 for rate limits, /48 for networks.
 */
export function expandIPv6(address: string): string[] {
  let text = address.toLowerCase();
  // A trailing dotted IPv4 part counts as two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = (v4[1] as string).split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -(v4[1] as string).length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...fill, ...right].map((g) => g.padStart(4, '0'));
}
