import type { ReactNode } from 'react';
import type { Job } from '@offload/client/browser';
import { commandLine, duration, megabytes, num } from '../lib/format';

/** What the job asks for: command or task + input, requirements, placement, limits, tags. */
export function JobSpec({ job }: { job: Job }) {
  const r = job.requires;
  const rows: Array<[string, ReactNode]> = [
    ['Kind', job.kind],
    job.kind === 'command'
      ? ['Command', <code className="wrap">{commandLine(job.command)}</code>]
      : ['Task', <code>{job.task}</code>],
    ['Queue', job.queue],
    ['Priority', job.priority],
    [
      'Requires',
      [
        `${num(r.cpu)} CPU`,
        r.memoryMb ? megabytes(r.memoryMb) : null,
        r.gpus
          ? `${r.gpus} GPU${r.gpus > 1 ? 's' : ''}${r.gpuMemoryMb ? ` (${megabytes(r.gpuMemoryMb)} each)` : ''}`
          : null,
        ...r.capabilities,
      ]
        .filter(Boolean)
        .join(' · '),
    ],
    ['Target agent', job.targetAgent ?? '—'],
    ['Pool', job.pool ?? '—'],
    ['Timeout', duration(job.timeoutSec * 1_000)],
    [
      'Attempts',
      `${job.attempt} of ${job.maxAttempts} (backoff ${job.backoff.type}, ${job.backoff.delaySec} s)`,
    ],
  ];
  if (job.cwd) rows.push(['Working dir', <code>{job.cwd}</code>]);
  if (job.env && Object.keys(job.env).length > 0)
    rows.push(['Env', <code className="wrap">{Object.keys(job.env).join(', ')}</code>]);
  if (Object.keys(job.tags).length > 0)
    rows.push([
      'Tags',
      <span className="tags">
        {Object.entries(job.tags).map(([k, v]) => (
          <span key={k} className="tag">
            {k}:{v}
          </span>
        ))}
      </span>,
    ]);
  return (
    <section className="card" aria-labelledby="spec-title">
      <h2 id="spec-title">Spec</h2>
      <dl className="kv">
        {rows.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      {job.kind === 'task' && job.input !== undefined && (
        <>
          <h3>Input</h3>
          <pre className="json">{JSON.stringify(job.input, null, 2)}</pre>
        </>
      )}
    </section>
  );
}
