import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { buildPackagesOnce } from '../helpers/build.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

beforeAll(async () => {
  await buildPackagesOnce();
}, 120_000);

it('serves the test kit and the token verifier to plain Node by package name, without tsx', async () => {
  const script = `
    const testing = await import('passkey-auth-server/testing');
    const verify = await import('passkey-auth-server/verify');
    const server = await import('passkey-auth-server');
    const authenticator = testing.createSoftwareAuthenticator({ origin: 'https://app.example' });
    const registration = authenticator.createCredential({
      rp: { id: 'app.example', name: 'App' },
      user: { id: 'dXNlcg', name: 'ann', displayName: 'Ann' },
      challenge: 'Y2hhbGxlbmdl',
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    });
    const virtual = testing.toVirtualCredential(authenticator.credentials[0]);
    console.log(JSON.stringify({
      testing: Object.keys(testing).sort(),
      verify: Object.keys(verify).sort(),
      server: Object.keys(server).sort(),
      type: registration.type,
      rpId: virtual.rpId,
    }));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
  const result = JSON.parse(stdout);
  expect(result.testing).toEqual(
    expect.arrayContaining(['addVirtualAuthenticator', 'createSoftwareAuthenticator', 'toVirtualCredential']),
  );
  expect(result.verify).toEqual(
    expect.arrayContaining(['verifyAccessToken', 'createAccessTokenVerifier', 'introspect']),
  );
  expect(result.server).toEqual(expect.arrayContaining(['createAuth', 'loadConfig', 'AuthStartError']));
  expect(result).toMatchObject({ type: 'public-key', rpId: 'app.example' });
}, 60_000);

it('gives TypeScript users the types of the embedding API, the client, the test kit and the verifier', async () => {
  const dir = path.join(root, 'test-artifacts', 'consumer');
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'consumer.ts'),
    [
      "import { createAuthClient, describeError, type AuthClient, type Passkey } from 'passkey-auth-server/client';",
      "import { addVirtualAuthenticator, createSoftwareAuthenticator, type VirtualAuthenticator } from 'passkey-auth-server/testing';",
      "import { verifyAccessToken } from 'passkey-auth-server/verify';",
      "import { createAuth, type Auth, type AuthVariables } from 'passkey-auth-server';",
      'const embed: (options: Parameters<typeof createAuth>[0]) => Promise<Auth> = createAuth;',
      "type Me = AuthVariables['user']['username'];",
      "const me: Me = 'ann';",
      "const client: AuthClient = createAuthClient({ baseUrl: 'https://auth.example.com' });",
      "const message: string = describeError(new Error('x'), { action: 'sign-in' });",
      'const names = (passkeys: Passkey[]): string[] => passkeys.map((p) => p.name);',
      "const software = createSoftwareAuthenticator({ origin: 'https://auth.example.com' });",
      'type Installed = Awaited<ReturnType<typeof addVirtualAuthenticator>> extends VirtualAuthenticator ? true : never;',
      'const installed: Installed = true;',
      'export { client, message, names, software, installed, verifyAccessToken, embed, me };',
      '',
    ].join('\n'),
  );
  await writeFile(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        lib: ['ES2023', 'DOM', 'DOM.Iterable'],
        types: ['node'],
        typeRoots: [path.join(root, 'node_modules/@types')],
        skipLibCheck: false,
      },
      files: ['consumer.ts'],
    }),
  );
  const result = await run(path.join(root, 'node_modules/.bin/tsc'), ['-p', dir], { cwd: dir }).catch(
    (err: { stdout: string; stderr: string }) => err,
  );
  expect(`${result.stdout}${result.stderr}`).toBe('');
}, 60_000);
