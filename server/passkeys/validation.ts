import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { fromBase64url } from '../crypto.js';
import { AuthError } from '../errors.js';

/** WebAuthn caps credential IDs at 1023 bytes (Web Authentication Level 3, §5.1). */
export const maxCredentialIdBytes = 1023;
const maxFieldLength = 16_384;

type Json = Record<string, unknown>;

function invalid(message: string): never {
  throw new AuthError('invalid_request', message);
}

function object(value: unknown, name: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid(`${name} must be an object.`);
  return value as Json;
}

function base64url(value: unknown, name: string, { optional = false, max = maxFieldLength } = {}): string | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max || fromBase64url(value) === null) {
    invalid(`${name} must be a non-empty base64url string.`);
  }
  return value;
}

function required(value: string | undefined): string {
  return value as string;
}

interface CredentialFields {
  id: string;
  rawId: string;
  credentialId: Buffer;
  authenticatorAttachment?: 'platform' | 'cross-platform';
  clientExtensionResults: Json;
}

function credentialFields(body: unknown): CredentialFields & { json: Json } {
  const json = object(body, 'body');
  const id = required(base64url(json.id, 'id', { max: 1400 }));
  const rawId = required(base64url(json.rawId, 'rawId', { max: 1400 }));
  if (id !== rawId) invalid('id and rawId must be equal.');
  const credentialId = fromBase64url(id) as Buffer;
  if (credentialId.byteLength > maxCredentialIdBytes) invalid(`A credential ID must be at most ${maxCredentialIdBytes} bytes.`);
  if (json.type !== 'public-key') invalid('type must be "public-key".');
  const attachment = json.authenticatorAttachment;
  if (attachment !== undefined && attachment !== null && attachment !== 'platform' && attachment !== 'cross-platform') {
    invalid('authenticatorAttachment must be "platform" or "cross-platform".');
  }
  const extensions = json.clientExtensionResults === undefined ? {} : object(json.clientExtensionResults, 'clientExtensionResults');
  return {
    json,
    id,
    rawId,
    credentialId,
    ...(typeof attachment === 'string' ? { authenticatorAttachment: attachment as 'platform' | 'cross-platform' } : {}),
    clientExtensionResults: extensions,
  };
}

/**
 * Reads the challenge out of clientDataJSON, so the server can find (and consume) the ceremony it
 * belongs to without any client-side state.
 */
function challengeOf(clientDataJSON: string): { challenge: string; crossOrigin: boolean } {
  let clientData: unknown;
  try {
    clientData = JSON.parse((fromBase64url(clientDataJSON) as Buffer).toString('utf8'));
  } catch {
    invalid('response.clientDataJSON is not JSON.');
  }
  const { challenge, crossOrigin, topOrigin } = object(clientData, 'clientDataJSON');
  if (typeof challenge !== 'string' || challenge.length === 0 || challenge.length > 256) invalid('clientDataJSON has no challenge.');
  // Only "absent" or exactly false is a top-level ceremony; any other value ("true", 1, null) and any
  // topOrigin (which browsers send only from inside a frame) counts as embedded, and is refused.
  return { challenge, crossOrigin: (crossOrigin !== undefined && crossOrigin !== false) || topOrigin !== undefined };
}

function transports(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > 8 || !value.every((t) => typeof t === 'string' && /^[a-z-]{1,32}$/.test(t))) {
    invalid('response.transports must be a short list of transport names.');
  }
  return value as string[];
}

/** Parses a `RegistrationResponseJSON` from an untrusted body; `invalid_request` on any deviation. */
export function parseRegistrationResponse(body: unknown): {
  response: RegistrationResponseJSON;
  challenge: string;
  crossOrigin: boolean;
  credentialId: Buffer;
} {
  const fields = credentialFields(body);
  const r = object(fields.json.response, 'response');
  const clientDataJSON = required(base64url(r.clientDataJSON, 'response.clientDataJSON'));
  const attestationObject = required(base64url(r.attestationObject, 'response.attestationObject'));
  const authenticatorData = base64url(r.authenticatorData, 'response.authenticatorData', { optional: true });
  const publicKey = base64url(r.publicKey, 'response.publicKey', { optional: true });
  if (r.publicKeyAlgorithm !== undefined && !Number.isInteger(r.publicKeyAlgorithm)) invalid('response.publicKeyAlgorithm must be an integer.');
  const response: RegistrationResponseJSON = {
    id: fields.id,
    rawId: fields.rawId,
    type: 'public-key',
    response: {
      clientDataJSON,
      attestationObject,
      ...(authenticatorData !== undefined ? { authenticatorData } : {}),
      ...(publicKey !== undefined ? { publicKey } : {}),
      ...(typeof r.publicKeyAlgorithm === 'number' ? { publicKeyAlgorithm: r.publicKeyAlgorithm } : {}),
      ...(transports(r.transports) ? { transports: r.transports as RegistrationResponseJSON['response']['transports'] } : {}),
    },
    clientExtensionResults: fields.clientExtensionResults,
    ...(fields.authenticatorAttachment ? { authenticatorAttachment: fields.authenticatorAttachment } : {}),
  };
  return { response, ...challengeOf(clientDataJSON), credentialId: fields.credentialId };
}

/** Parses an `AuthenticationResponseJSON` from an untrusted body; `invalid_request` on any deviation. */
export function parseAuthenticationResponse(body: unknown): {
  response: AuthenticationResponseJSON;
  challenge: string;
  crossOrigin: boolean;
  credentialId: Buffer;
  userHandle: string | null;
} {
  const fields = credentialFields(body);
  const r = object(fields.json.response, 'response');
  const clientDataJSON = required(base64url(r.clientDataJSON, 'response.clientDataJSON'));
  const authenticatorData = required(base64url(r.authenticatorData, 'response.authenticatorData'));
  const signature = required(base64url(r.signature, 'response.signature'));
  const userHandle = r.userHandle === null || r.userHandle === '' ? undefined : base64url(r.userHandle, 'response.userHandle', { optional: true, max: 128 });
  const response: AuthenticationResponseJSON = {
    id: fields.id,
    rawId: fields.rawId,
    type: 'public-key',
    response: { clientDataJSON, authenticatorData, signature, ...(userHandle !== undefined ? { userHandle } : {}) },
    clientExtensionResults: fields.clientExtensionResults,
    ...(fields.authenticatorAttachment ? { authenticatorAttachment: fields.authenticatorAttachment } : {}),
  };
  return { response, ...challengeOf(clientDataJSON), credentialId: fields.credentialId, userHandle: userHandle ?? null };
}
