import { createHmac, timingSafeEqual } from 'node:crypto';

/** The name of the header that carries the signature. */
export const signatureHeader = 'Webhook-Signature';

/** HMAC-SHA256 of `${timestamp}.${body}` under `secret`, in hex. */
function computeSignature(secret: string, timestamp: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/**
 * The `Webhook-Signature` value for one delivery: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "t.body">`. The timestamp is signed with the body, so a captured request cannot be replayed
 * later with a fresh timestamp.
 */
export function signWebhookBody(secret: string, body: string, at: Date): string {
  const timestamp = Math.floor(at.getTime() / 1000);
  return `t=${timestamp},v1=${computeSignature(secret, timestamp, body)}`;
}

export interface VerifyWebhookOptions {
  /** How far the signed timestamp may be from `now`, either way, in seconds (default 300). */
  toleranceSeconds?: number;
  /** The current time (default: the system clock). */
  now?: Date;
}

/**
 * Checks a `Webhook-Signature` header against the raw request body (the exact bytes received, not
 * re-serialized JSON). True only when a `v1` signature matches under `secret` (compared in constant
 * time) and the timestamp is within the tolerance. Several `v1=` entries are allowed; any may match.
 *
 * @example
 * const ok = verifyWebhookSignature(process.env.WEBHOOK_SECRET, req.headers['webhook-signature'], rawBody);
 * if (!ok) return res.writeHead(400).end();
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  body: string | Uint8Array,
  { toleranceSeconds = 300, now = new Date() }: VerifyWebhookOptions = {},
): boolean {
  if (typeof header !== 'string' || header.length > 4096) return false;
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [key, value, ...rest] = part.trim().split('=');
    if (value === undefined || rest.length > 0) continue;
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === null || signatures.length === 0) return false;
  if (Math.abs(now.getTime() / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(computeSignature(secret, timestamp, body), 'hex');
  let matched = false;
  for (const signature of signatures) {
    // No early exit: every candidate is compared, in constant time.
    if (timingSafeEqual(expected, Buffer.from(signature, 'hex'))) matched = true;
  }
  return matched;
}
