import { OffloadApiError } from '@offload/client';
import type { AgentRegister, AgentRegistered } from '@offload/protocol';
import type { AgentIdentity, AgentState } from './agent-state.js';
import { AgentStartError, type AgentOptions } from './agent-api.js';
import { StoppedError, type Connection } from './connection.js';
import { errMessage } from '../error-message.js';

/** A credential the server refused (revoked agent, used or expired join token). */
export function refused(err: unknown): boolean {
  return err instanceof OffloadApiError && (err.status === 401 || err.status === 403);
}

/**
 * Registers the agent: with the secret stored in the state directory when there is one (and
 * the name was not changed), else — or when that secret is refused and a join token was
 * given — with the join token. Stores the identity the server answers with. Every refusal
 * becomes an AgentStartError whose code tells the CLI what to print.
 */
export async function registerAgent(p: {
  conn: Connection;
  state: AgentState;
  stateDir: string;
  options: Pick<AgentOptions, 'name' | 'joinToken' | 'servers'>;
  identity: AgentIdentity | undefined;
  body: AgentRegister;
  log: (line: string) => void;
}): Promise<AgentRegistered> {
  const { conn, options, identity, body, stateDir } = p;
  const attempt = async (token: string) => {
    conn.setToken(token);
    return conn.call('register', (c) => c.register(body));
  };
  let reg: AgentRegistered | undefined;
  try {
    if (identity && (options.name === undefined || options.name === identity.name)) {
      try {
        reg = await attempt(identity.secret);
      } catch (err) {
        if (!(refused(err) && options.joinToken)) throw err;
        p.log(`the stored credential of ${identity.name} was refused; joining again`);
      }
    }
    if (!reg) {
      if (!options.joinToken)
        throw new AgentStartError(
          'NO_CREDENTIAL',
          `no agent credential in ${stateDir}: pass a join token (--join TOKEN; create one with \`offload tokens create\`)`,
        );
      reg = await attempt(options.joinToken);
    }
  } catch (err) {
    throw startError(err, body.name, conn.url, stateDir, options.joinToken !== undefined);
  }
  if (reg.secret) conn.setToken(reg.secret);
  p.state.writeIdentity({
    agentId: reg.agent.id,
    name: reg.agent.name,
    secret: reg.secret ?? identity!.secret,
    servers: [...options.servers],
  });
  return reg;
}

function startError(
  err: unknown,
  name: string,
  url: string,
  stateDir: string,
  joining: boolean,
): Error {
  if (err instanceof AgentStartError || err instanceof StoppedError) return err;
  if (OffloadApiError.is(err, 'AGENT_NAME_TAKEN'))
    return new AgentStartError(
      'NAME_TAKEN',
      `the agent name "${name}" is taken by another agent on ${url}; choose another with --name`,
      { cause: err },
    );
  if (refused(err) && !joining)
    return new AgentStartError(
      'JOIN_REFUSED',
      `${url} refused the stored credential of this agent (in ${stateDir}; revoked?): join again with --join TOKEN`,
      { cause: err },
    );
  if (refused(err))
    return new AgentStartError(
      'JOIN_REFUSED',
      `${url} refused to register this agent (${(err as OffloadApiError).status} ${(err as OffloadApiError).code}): the join token is invalid, expired, used or revoked`,
      { cause: err },
    );
  return new AgentStartError('REFUSED', `registration failed: ${errMessage(err)}`, { cause: err });
}
