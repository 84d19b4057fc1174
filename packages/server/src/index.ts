export { buildApp, API_VERSION, type BuildAppOptions } from './app.js';
export {
  resolveServerConfig,
  defaultDataDir,
  ConfigError,
  type ServerConfig,
  type RawConfig,
} from './config.js';
export type { Services, App } from './routes/route-context.js';
export { hashSecret, newSecret } from './services/secrets.js';
export {
  loadServerConfig,
  findConfigFile,
  envName,
  flagName,
  CONFIG_KEYS,
  type ConfigKey,
  type ConfigFlags,
  type LoadServerConfigOptions,
} from './config-loader.js';
export {
  ensureAdminToken,
  ADMIN_TOKEN_FILE,
  type AdminToken,
  type EnsureAdminTokenOptions,
  createAdminToken,
} from './admin-token.js';
export {
  startServer,
  createLogger,
  StartupError,
  type StartServerOptions,
  type RunningServer,
  redactStoreUrl,
} from './server.js';
