import type { Key } from '@offload/client/browser';
import { ActionButton } from '../components/ActionButton';
import { KeyCreateForm } from '../components/KeyCreateForm';
import { PageHeader } from '../components/PageHeader';
import { RelTime } from '../components/RelTime';
import { Empty, ErrorBox, Loading } from '../components/Status';
import { useAsync } from '../hooks/use-async';
import { useSession } from '../hooks/use-session';

export function AccessPage() {
  const { client, can } = useSession();
  const keys = useAsync(
    () => (can.admin ? client.keys.list() : Promise.resolve([])),
    [client, can.admin],
  );
  if (!can.admin)
    return (
      <section aria-labelledby="page-title">
        <PageHeader title={<span id="page-title">Access</span>} />
        <Empty>
          API keys and join tokens are managed with the admin token or a key with the{' '}
          <code>admin</code> scope.
        </Empty>
      </section>
    );
  const list = keys.data ?? [];
  const apiKeys = list.filter((k) => k.kind === 'api-key');
  const joins = list.filter((k) => k.kind === 'join-token');
  const replace = (k: Key) => keys.setData((l) => l.map((x) => (x.id === k.id ? k : x)));
  return (
    <section aria-labelledby="page-title">
      <PageHeader title={<span id="page-title">Access</span>} />
      <div className="access-grid">
        <div className="stack">
          {keys.status === 'loading' && <Loading what="keys" />}
          {keys.status === 'error' && <ErrorBox error={keys.error} onRetry={keys.reload} />}
          {keys.data && (
            <>
              <KeyTable
                title="API keys"
                keys={apiKeys}
                onRevoked={replace}
                empty="No API keys yet."
              />
              <KeyTable
                title="Join tokens"
                keys={joins}
                onRevoked={replace}
                empty="No join tokens yet."
              />
            </>
          )}
        </div>
        <KeyCreateForm onCreated={keys.reload} />
      </div>
    </section>
  );
}

function KeyTable({
  title,
  keys,
  onRevoked,
  empty,
}: {
  title: string;
  keys: Key[];
  onRevoked: (k: Key) => void;
  empty: string;
}) {
  const { client } = useSession();
  const id = title.replace(/\W+/g, '-').toLowerCase();
  const sorted = [...keys].sort(
    (a, b) =>
      Number(!!a.revokedAt) - Number(!!b.revokedAt) || b.createdAt.localeCompare(a.createdAt),
  );
  return (
    <section className="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {sorted.length === 0 ? (
        <p className="muted">{empty}</p>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>{keys[0]?.kind === 'join-token' ? 'Use' : 'Scopes'}</th>
                <th className="hide-sm">Created</th>
                <th className="hide-sm">Last used</th>
                <th>Status</th>
                <th>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((k) => (
                <tr key={k.id} className={k.revokedAt ? 'revoked' : undefined} data-key={k.name}>
                  <td>
                    {k.name}
                    <div className="muted mono small">{k.id}</div>
                  </td>
                  <td>
                    {k.kind === 'join-token' ? (
                      joinTokenUse(k)
                    ) : (
                      <span className="tags">
                        {(k.scopes ?? []).map((s) => (
                          <span key={s} className="tag">
                            {s}
                          </span>
                        ))}
                      </span>
                    )}
                    {k.queues && k.queues.length > 0 && (
                      <div className="muted small">queues: {k.queues.join(', ')}</div>
                    )}
                    {k.capabilities && k.capabilities.length > 0 && (
                      <div className="muted small">capabilities: {k.capabilities.join(', ')}</div>
                    )}
                  </td>
                  <td className="hide-sm">
                    <RelTime at={k.createdAt} />
                  </td>
                  <td className="hide-sm">
                    <RelTime at={k.lastUsedAt} />
                  </td>
                  <td>
                    {k.revokedAt ? (
                      <span className="badge state-canceled">revoked</span>
                    ) : k.expiresAt && Date.parse(k.expiresAt) < Date.now() ? (
                      <span className="badge state-expired">expired</span>
                    ) : k.kind === 'join-token' && k.singleUse && k.lastUsedAt ? (
                      <span className="badge state-canceled" title="a single-use token, used">
                        used
                      </span>
                    ) : (
                      <span
                        className="badge state-succeeded"
                        title={k.expiresAt ? `expires ${k.expiresAt}` : 'no expiry'}
                      >
                        active
                      </span>
                    )}
                  </td>
                  <td className="actions">
                    {!k.revokedAt && (
                      <ActionButton
                        variant="danger"
                        label={`Revoke ${k.name}`}
                        confirm="Revoke?"
                        action={() => client.keys.revoke(k.id).then(onRevoked)}
                      >
                        Revoke
                      </ActionButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function joinTokenUse(k: Key): string {
  return k.singleUse ? 'single use' : 'reusable';
}
