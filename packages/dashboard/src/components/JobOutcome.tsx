import type { Job } from '@offload/client/browser';
import { duration, num } from '../lib/format';
import { ProgressBar } from './ProgressBar';

/** Where the job is: progress while it runs; exit code, signal, error, result and usage after. */
export function JobOutcome({ job }: { job: Job }) {
  return (
    <section className="card" aria-labelledby="outcome-title">
      <h2 id="outcome-title">Outcome</h2>
      {(job.state === 'running' || job.progress) && <ProgressBar progress={job.progress} />}
      <dl className="kv">
        <div>
          <dt>Exit code</dt>
          <dd className="mono">{job.exitCode ?? (job.signal ? `signal ${job.signal}` : '—')}</dd>
        </div>
        {job.error && (
          <div>
            <dt>Error</dt>
            <dd>
              <span className="badge state-failed">{job.error.code}</span>{' '}
              <span className="wrap">{job.error.message}</span>
            </dd>
          </div>
        )}
        {job.cancelRequested && job.state === 'running' && (
          <div>
            <dt>Cancel</dt>
            <dd>requested; the agent is stopping the process tree</dd>
          </div>
        )}
        <div>
          <dt>Usage</dt>
          <dd>
            {job.usage
              ? [
                  `wall ${duration(job.usage.wallSec * 1_000)}`,
                  job.usage.cpuSec !== undefined
                    ? `cpu ${duration(job.usage.cpuSec * 1_000)}`
                    : null,
                  job.usage.maxRssMb !== undefined ? `max RSS ${num(job.usage.maxRssMb)} MB` : null,
                ]
                  .filter(Boolean)
                  .join(' · ')
              : '—'}
          </dd>
        </div>
      </dl>
      {job.result !== undefined && (
        <>
          <h3>Result</h3>
          <pre className="json">{JSON.stringify(job.result, null, 2)}</pre>
        </>
      )}
    </section>
  );
}
