/**
 * Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on
 * the same machine (performance.timeOrigin is an epoch timestamp taken at process start).
 * @returns {number}
 */
export const wallMs = () => performance.timeOrigin + performance.now();
