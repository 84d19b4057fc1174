import type { ProgressUpdate } from './job-outcome.js';

const PROGRESS_RE = /^::progress[ \t]+(\d{1,3}(?:\.\d+)?)(?:[ \t]+(.*?))?[ \t\r]*$/;
export const STAGE_MAX_LENGTH = 256;
export const MESSAGE_MAX_LENGTH = 4096;

/**
 * Reads a `::progress N [stage]` line (N from 0 to 100, the stage the rest of the line). The
 * line is not removed from the log. Anything else, including N > 100, is not a progress line.
 */
export function parseProgressLine(line: string): ProgressUpdate | undefined {
  if (!line.startsWith('::progress')) return undefined;
  const m = PROGRESS_RE.exec(line);
  if (!m) return undefined;
  const percent = Number(m[1]);
  if (!(percent >= 0 && percent <= 100)) return undefined;
  const stage = m[2]?.trim();
  return stage ? { percent, stage: stage.slice(0, STAGE_MAX_LENGTH) } : { percent };
}
