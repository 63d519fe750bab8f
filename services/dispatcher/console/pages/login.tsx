import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError, storeKey } from '../api';

/** Asks for the admin API key and checks it against the API before keeping it (sessionStorage only). */
export function Login({ onSignedIn, notice }: { onSignedIn: () => void; notice?: string }): JSX.Element {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(notice ?? null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('/v1/stats', { key: key.trim() });
      storeKey(key.trim());
      onSignedIn();
    } catch (reason) {
      if (reason instanceof ApiError && reason.status === 401) setError('That key was refused: the API does not know it.');
      else if (reason instanceof ApiError && reason.status === 403) setError('That key works but lacks the admin role; the console needs an admin key.');
      else setError(`Could not check the key: ${reason instanceof Error ? reason.message : String(reason)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>Outbound console</h1>
      <form onSubmit={submit} class="card">
        <label for="api-key">Admin API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          aria-describedby="key-help"
          aria-invalid={error ? true : undefined}
        />
        <p id="key-help" class="muted">
          Kept in this tab only (session storage) and sent as a Bearer token with every API call.
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
