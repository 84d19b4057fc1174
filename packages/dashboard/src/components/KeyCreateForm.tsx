import { useState, type FormEvent } from 'react';
import type { KeyCreated, Scope } from '@offload/client/browser';
import { useSession } from '../hooks/use-session';
import { errorMessage } from '../lib/session';
import { CopyButton } from './CopyButton';

const SCOPES: ReadonlyArray<{ scope: Scope; hint: string }> = [
  { scope: 'read', hint: 'see jobs, logs, agents, queues' },
  { scope: 'submit', hint: 'submit and retry task jobs' },
  { scope: 'shell', hint: 'with submit: command jobs' },
  { scope: 'cancel', hint: 'cancel jobs' },
  { scope: 'admin', hint: 'agents, queues, keys' },
];

/** Creates an API key or a join token and shows its secret once, with a copy button. */
export function KeyCreateForm({ onCreated }: { onCreated: () => void }) {
  const { client } = useSession();
  const [kind, setKind] = useState<'api-key' | 'join-token'>('api-key');
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['read']);
  const [ttl, setTtl] = useState('');
  const [queues, setQueues] = useState('');
  const [capabilities, setCapabilities] = useState('');
  const [singleUse, setSingleUse] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<KeyCreated | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const ttlSec = ttl.trim() === '' ? undefined : Math.round(Number(ttl) * 3_600);
      const k = await client.keys.create({
        kind,
        name: name.trim(),
        ...(kind === 'api-key' ? { scopes } : { singleUse }),
        ...(kind === 'api-key' && list(queues).length > 0 && { queues: list(queues) }),
        ...(kind === 'api-key' &&
          list(capabilities).length > 0 && { capabilities: list(capabilities) }),
        ...(ttlSec !== undefined && { ttlSec }),
      });
      setCreated(k);
      setName('');
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (s: Scope) =>
    setScopes((x) => (x.includes(s) ? x.filter((y) => y !== s) : [...x, s]));

  return (
    <section className="card" aria-labelledby="create-title">
      <h2 id="create-title">Create</h2>
      {created && (
        <div className="secret" role="status">
          <p>
            <strong>
              {created.kind === 'api-key' ? 'API key' : 'Join token'} “{created.name}” created.
            </strong>{' '}
            Copy the secret now: it is shown only this once.
          </p>
          <div className="secret-row">
            <code className="secret-value" aria-label="The new secret">
              {created.token}
            </code>
            <CopyButton text={created.token} />
          </div>
          <button type="button" className="btn ghost small" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      <form className="stack" onSubmit={(e) => void submit(e)}>
        <fieldset className="radio-row">
          <legend>Kind</legend>
          <label>
            <input
              type="radio"
              name="kind"
              checked={kind === 'api-key'}
              onChange={() => setKind('api-key')}
            />{' '}
            API key
          </label>
          <label>
            <input
              type="radio"
              name="kind"
              checked={kind === 'join-token'}
              onChange={() => setKind('join-token')}
            />{' '}
            Join token (for an agent)
          </label>
        </fieldset>
        <div className="field">
          <label htmlFor="key-name">Name</label>
          <input
            id="key-name"
            required
            maxLength={200}
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="ci-pipeline"
          />
        </div>
        {kind === 'api-key' ? (
          <fieldset className="check-grid">
            <legend>Scopes</legend>
            {SCOPES.map(({ scope, hint }) => (
              <label key={scope}>
                <input
                  type="checkbox"
                  checked={scopes.includes(scope)}
                  onChange={() => toggle(scope)}
                />{' '}
                <strong>{scope}</strong> <span className="muted small">{hint}</span>
              </label>
            ))}
          </fieldset>
        ) : (
          <label className="inline-check">
            <input
              type="checkbox"
              checked={singleUse}
              onChange={(e) => setSingleUse(e.target.checked)}
            />{' '}
            Single use
          </label>
        )}
        {kind === 'api-key' && (
          <>
            <div className="field">
              <label htmlFor="key-queues">Only these queues (optional, comma-separated)</label>
              <input
                id="key-queues"
                value={queues}
                onChange={(e) => setQueues(e.target.value)}
                placeholder="render, ingest"
              />
            </div>
            <div className="field">
              <label htmlFor="key-caps">
                Only these capabilities (optional; llm:* matches a prefix)
              </label>
              <input
                id="key-caps"
                value={capabilities}
                onChange={(e) => setCapabilities(e.target.value)}
                placeholder="gpu, llm:*"
              />
            </div>
          </>
        )}
        <div className="field">
          <label htmlFor="key-ttl">Expires after (hours, optional)</label>
          <input
            id="key-ttl"
            type="number"
            min="0.01"
            step="any"
            inputMode="decimal"
            value={ttl}
            onChange={(e) => setTtl(e.target.value)}
          />
        </div>
        {error !== null && (
          <p className="form-error" role="alert">
            {errorMessage(error)}
          </p>
        )}
        <button
          type="submit"
          className="btn primary"
          disabled={busy || name.trim() === '' || (kind === 'api-key' && scopes.length === 0)}
        >
          {busy ? 'Creating…' : kind === 'api-key' ? 'Create API key' : 'Create join token'}
        </button>
      </form>
    </section>
  );
}

/** "a, b,,c " → ["a", "b", "c"] */
function list(text: string): string[] {
  return text
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}
