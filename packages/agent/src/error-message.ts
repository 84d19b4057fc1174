/** The message of anything thrown, for a log line or an error of our own. */
export const errMessage = (err: unknown): string =>
  err instanceof Error ? err.message : String(err);
