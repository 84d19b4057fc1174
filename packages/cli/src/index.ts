export { main } from './main.js';
export { EXIT_OFFLOAD_FAILED, CliError, type CliIo } from './cli-io.js';
