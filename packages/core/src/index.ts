export * from './clock.js';
export * from './records.js';
export * from './backoff.js';
export * from './job-submit.js';
export * from './job-transitions.js';
export * from './matching.js';
export * from './scheduling.js';
export * from './agent-transitions.js';
