import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';

/**
 * Removes the job directories of finished command attempts (`<stateDir>/jobs/<job>-<attempt>/`:
 * spec, supervisor record, output.log, exit record), which would otherwise fill the disk of
 * a long-lived agent — a job's output lives on in the server's log store once shipped.
 *
 * Not at once: the supervisor host may still write a job's records after telling the agent of
 * its exit (up to RECORD_DELAY_MS later, when not released), so a directory is removed `keepMs`
 * after its attempt ended, in one sweep for all that are due. A restart removes the
 * directories that no running record names: their attempts ended (and were reported or
 * recorded in the outbox) before it.
 */
export class JobDirs {
  private readonly due: Array<{ dir: string; at: number }> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly jobsDir: string,
    private readonly keepMs: number,
    private readonly log: (line: string) => void,
  ) {}

  /** The attempt that ran in `dir` has ended and its outcome is recorded. */
  finished(dir: string): void {
    this.due.push({ dir, at: Date.now() + this.keepMs });
    this.arm();
  }

  /**
   * Removes every job directory but those of the attempts still running (at start, after
   * recovery), matched by name: the state directory may be given another way this time.
   */
  removeLeftovers(running: readonly string[]): void {
    const keep = new Set(running.map((dir) => basename(dir)));
    let names: string[];
    try {
      names = readdirSync(this.jobsDir);
    } catch {
      return; // no jobs yet
    }
    for (const name of names) {
      if (!keep.has(name)) this.remove(join(this.jobsDir, name));
    }
  }

  /** Stops the timer; directories still due are left for the next start. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (this.timer || this.due.length === 0) return;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, this.due[0]!.at - Date.now()));
    // An idle agent's process must not stay up for a cleanup.
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = null;
    const now = Date.now();
    while (this.due.length > 0 && this.due[0]!.at <= now) this.remove(this.due.shift()!.dir);
    this.arm();
  }

  private remove(dir: string): void {
    rm(dir, { recursive: true, force: true }).catch((err: unknown) =>
      this.log(`could not remove job directory ${dir}: ${(err as Error).message}`),
    );
  }
}
