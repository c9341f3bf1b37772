import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { origin, type TestApp } from '../helpers/app.js';
import { base64urlDecode, base64urlEncode, type CborValue, encodeCbor } from '../helpers/authenticator.js';

/** A request with full control over the raw body and headers (the Origin is ours unless replaced). */
export function raw(
  t: Pick<TestApp, 'app'>,
  method: string,
  path: string,
  options: { body?: string | Uint8Array; headers?: Record<string, string>; cookie?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { Origin: origin, ...options.headers };
  if (options.body !== undefined) headers['Content-Type'] ??= 'application/json';
  if (options.cookie) headers.Cookie = options.cookie;
  return Promise.resolve(t.app.request(path, { method, headers, body: options.body as BodyInit | undefined }));
}

/** The authenticatorData the software authenticator put into a registration response. */
export function authDataOf(response: RegistrationResponseJSON): Uint8Array {
  return base64urlDecode(response.response.authenticatorData!);
}

/** A `fmt`/`attStmt`/`authData` attestation object, as CTAP2 encodes it. */
export function attestationObject(fmt: string, attStmt: Map<string, CborValue>, authData: Uint8Array): string {
  return base64urlEncode(
    encodeCbor(
      new Map<string, CborValue>([
        ['fmt', fmt],
        ['attStmt', attStmt],
        ['authData', authData],
      ]),
    ),
  );
}

/** The registration response with another attestation object. */
export function withAttestation(response: RegistrationResponseJSON, attObj: string): RegistrationResponseJSON {
  return { ...response, response: { ...response.response, attestationObject: attObj } };
}

/** authenticatorData whose credential public key (COSE) says algorithm `alg`. */
export function authDataWithAlgorithm(authData: Uint8Array, alg: number): Uint8Array {
  const idLength = (authData[53]! << 8) | authData[54]!;
  const head = authData.slice(0, 55 + idLength);
  const cose = new Map<number, CborValue>([
    [1, 2],
    [3, alg],
    [-1, 1],
    [-2, new Uint8Array(32).fill(1)],
    [-3, new Uint8Array(32).fill(2)],
  ]);
  const key = encodeCbor(cose);
  const out = new Uint8Array(head.length + key.length);
  out.set(head);
  out.set(key, head.length);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Standard base64 with padding: what a client that forgot base64url would send. */
export function standardBase64(base64url: string): string {
  return Buffer.from(base64urlDecode(base64url)).toString('base64');
}

export function withResponse<T extends RegistrationResponseJSON | AuthenticationResponseJSON>(
  value: T,
  changes: Record<string, unknown>,
): T {
  return { ...value, response: { ...value.response, ...changes } } as T;
}

export function clientData(fields: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(fields)).toString('base64url');
}
