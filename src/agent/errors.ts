/**
 * Operating errors of the agent. Each has a stable `code` that the CLI prints and tests switch on;
 * the message is for people and may change. Programmer errors are assertions, never these.
 */

/** Stable codes of {@link AgentError}. */
export type AgentErrorCode =
  /** A command-line option or environment variable is out of range or malformed. */
  | 'AGENT_BAD_OPTION'
  /** The cluster key file is missing, unreadable or too short. */
  | 'AGENT_BAD_CLUSTER_KEY'
  /** An MQTT credential or TLS file cannot be read. */
  | 'AGENT_BAD_MQTT_FILE'
  /** The HTTP port could not be opened (in use, no permission). */
  | 'AGENT_HTTP_LISTEN'
  /** The shard host (replicas and data port) could not start. */
  | 'AGENT_SHARD_HOST';

/** A typed, recoverable agent error: the agent refuses to start, or one operation fails and it goes on. */
export class AgentError extends Error {
  constructor(
    readonly code: AgentErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}
