import { useEffect, useRef, useState } from 'react';
import type { Job } from '@offload/client/browser';
import { useSession } from '../hooks/use-session';
import { isTerminal } from '../lib/job-states';
import { errorMessage } from '../lib/session';

/** What the tail keeps on screen; the download has everything the server kept. */
const MAX_CHARS = 200_000;

interface Piece {
  stream: 'stdout' | 'stderr';
  data: string;
}

/**
 * The job's output: followed live over the SDK's log stream while the job runs (it reconnects
 * and skips what it already delivered), read once when it is finished. Scrolls with the output
 * while the view is at the bottom; scrolling up pauses that.
 */
export function LogTail({ job }: { job: Job }) {
  const { client } = useSession();
  const [pieces, setPieces] = useState<Piece[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [state, setState] = useState<'loading' | 'following' | 'done'>('loading');
  const [stick, setStick] = useState(true);
  const box = useRef<HTMLPreElement>(null);
  const finished = isTerminal(job);

  useEffect(() => {
    let current = true;
    setPieces([]);
    setError(null);
    if (finished) {
      client.logs(job.id).then(
        (text) => {
          if (!current) return;
          setPieces([{ stream: 'stdout', data: text.slice(-MAX_CHARS) }]);
          setState('done');
        },
        (err: unknown) => current && setError(err),
      );
      return () => {
        current = false;
      };
    }
    const stream = client.logs(job.id, { follow: true });
    setState('following');
    void (async () => {
      try {
        for await (const chunk of stream) {
          if (!current) break;
          setPieces((p) => trim([...p, chunk]));
        }
        if (current) setState('done');
      } catch (err) {
        if (current) setError(err);
      }
    })();
    return () => {
      current = false;
      void stream.close();
    };
    // Re-run only when the job becomes finished (to stop following) or changes.
  }, [client, job.id, finished]);

  useEffect(() => {
    const el = box.current;
    if (el && stick) el.scrollTop = el.scrollHeight;
  }, [pieces, stick]);

  const download = async () => {
    try {
      const text = await client.logs(job.id);
      const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `${job.id}.log`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(err);
    }
  };

  const empty = pieces.every((p) => p.data === '');
  return (
    <section className="card log-card" aria-labelledby="log-title">
      <div className="card-head">
        <h2 id="log-title">Output</h2>
        <span className={`small log-state ${state}`} role="status">
          {state === 'following'
            ? '● following live'
            : state === 'loading'
              ? 'loading…'
              : 'complete'}
        </span>
        <label className="inline-check">
          <input type="checkbox" checked={stick} onChange={(e) => setStick(e.target.checked)} />{' '}
          Follow
        </label>
        <button type="button" className="btn small" onClick={() => void download()}>
          Download full log
        </button>
      </div>
      {error !== null && (
        <p className="inline-error" role="alert">
          {errorMessage(error)}
        </p>
      )}
      <pre
        ref={box}
        className="log"
        tabIndex={0}
        aria-label="Job output"
        aria-live="off"
        onScroll={(e) => {
          const el = e.currentTarget;
          const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
          if (atBottom !== stick) setStick(atBottom);
        }}
      >
        {empty ? (
          <span className="muted">{state === 'done' ? 'No output.' : 'Waiting for output…'}</span>
        ) : (
          pieces.map((p, i) => (
            <span key={i} className={p.stream === 'stderr' ? 'stderr' : undefined}>
              {p.data}
            </span>
          ))
        )}
      </pre>
    </section>
  );
}

function trim(pieces: Piece[]): Piece[] {
  let total = 0;
  for (let i = pieces.length - 1; i >= 0; i--) {
    total += pieces[i]!.data.length;
    if (total > MAX_CHARS) return pieces.slice(i + 1);
  }
  return pieces;
}
