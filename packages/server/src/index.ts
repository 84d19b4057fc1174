export { buildApp, API_VERSION, type BuildAppOptions } from './app.js';
export { resolveServerConfig, defaultDataDir, ConfigError, type ServerConfig, type RawConfig } from './config.js';
export type { Services, App } from './routes/route-context.js';
export { hashSecret, newSecret } from './services/secrets.js';
