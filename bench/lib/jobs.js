/**
 * A no-op task job with about 70 bytes of input, like the anchors' jobs
 * (../shared/bench/anchors/RESULTS.md, Method). Agents registered with `task:noop` take it.
 * @param {number} i
 */
export function jobSpecJson(i) {
  return `{"task":"noop","input":{"i":${i},"user":"user-${i % 1000}","action":"send-email"}}`;
}
