// The host app's page script: passkey-auth-client (served by the host at /auth-client.js) for the
// ceremonies, then the host's own protected API.
import { createAuthClient, describeError } from '/auth-client.js';

const auth = createAuthClient();
const status = document.getElementById('status');

async function showMe() {
  const response = await fetch('/api/me');
  const body = await response.json();
  status.textContent = response.ok ? `Signed in as ${body.user.username}` : 'Signed out';
}

document.getElementById('sign-up').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await auth.register({ username: document.getElementById('username').value });
    await showMe();
  } catch (error) {
    status.textContent = describeError(error, { action: 'sign-up' });
  }
});
document.getElementById('sign-in').addEventListener('click', async () => {
  try {
    await auth.signIn();
    await showMe();
  } catch (error) {
    status.textContent = describeError(error, { action: 'sign-in' });
  }
});
document.getElementById('sign-out').addEventListener('click', async () => {
  await auth.signOut();
  await showMe();
});

await showMe();
