import { Command } from 'commander';
import type { CliIo } from '../cli-io.js';
import { configFilePath, writeConfigFile } from './connection.js';

export function loginCommand(io: CliIo): Command {
  return new Command('login')
    .description('Save the server URL and API key for later commands (config file, mode 0600).')
    .argument('<url>', 'the server URL, e.g. http://127.0.0.1:7070')
    .action((url: string, _opts: unknown, cmd: Command) => {
      const { key } = cmd.optsWithGlobals<{ key?: string }>();
      const file = configFilePath(io.env);
      const clean = url.replace(/\/+$/, '');
      writeConfigFile(file, { url: clean, ...(key !== undefined && { apiKey: key }) });
      io.stderr(`saved ${clean} to ${file}\n`);
    });
}
