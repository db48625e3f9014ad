import { readFileSync } from 'node:fs';
import { OperatingError, UsageError, type Command } from '../command.js';
import { createToken, verifyToken } from '../../protocol/index.js';
import { loadTokenKey } from '../../gateway/auth.js';

/** Longest token lifetime `token create` makes (a year): long-lived secrets should be rotated. */
export const MAX_TOKEN_TTL_MS = 366 * 24 * 3600 * 1000;

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90s`, `15m`, `12h`, `30d` or `500ms` to milliseconds; a usage error otherwise. */
export function parseDurationMs(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new UsageError(`--ttl must be a duration such as 90s, 15m, 12h or 30d, got ${JSON.stringify(text)}`);
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  if (ms < 1000 || ms > MAX_TOKEN_TTL_MS) throw new UsageError(`--ttl must be from 1s to 366d, got ${text}`);
  return ms;
}

function keyOf(path: string | undefined): Uint8Array {
  if (path === undefined) throw new UsageError('--key-file is required');
  try {
    return loadTokenKey(path);
  } catch (error) {
    throw new OperatingError('BAD_KEY', (error as Error).message);
  }
}

/** `foreshard token`: makes (and checks) gateway bearer tokens. */
export const tokenCommand: Command = {
  name: 'token',
  summary: 'make gateway access tokens (HMAC-signed, with an expiry)',
  usage: 'create --key-file <f> --subject <s> [--ttl <dur>] | verify --key-file <f> <token>',
  details: [
    'create prints one token on stdout: fst1.<payload>.<mac> (docs/wire-format.md). Clients send it as',
    '`Authorization: Bearer <token>` or `?token=<token>`. The key file holds at least 32 bytes, as hex',
    '(e.g. `openssl rand -hex 32 > gateway.key`) or raw; the gateway needs the same file (--token-key-file).',
    'verify prints the subject and expiry of a token, or exits 1 when it does not verify.',
  ].join('\n'),
  options: {
    'key-file': { type: 'string', description: 'file with the token key (hex or raw, >= 32 bytes)', valueName: '<f>' },
    subject: { type: 'string', description: 'who the token is for, e.g. client:alice (printable ASCII, no spaces)', valueName: '<s>' },
    ttl: { type: 'string', description: 'lifetime: 90s, 15m, 12h, 30d', default: '30d', valueName: '<dur>' },
  },
  async run(positionals, options) {
    const [action, ...rest] = positionals;
    const key = () => keyOf(typeof options['key-file'] === 'string' ? options['key-file'] : undefined);
    if (action === 'create') {
      if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
      if (typeof options.subject !== 'string') throw new UsageError('--subject is required');
      const expiresAt = Date.now() + parseDurationMs(String(options.ttl));
      try {
        process.stdout.write(createToken(key(), { sub: options.subject, expiresAt }) + '\n');
      } catch (error) {
        throw new OperatingError('BAD_TOKEN', (error as Error).message);
      }
      return 0;
    }
    if (action === 'verify') {
      const token = rest[0] ?? (process.stdin.isTTY ? undefined : readFileSync(0, 'utf8').trim());
      if (!token) throw new UsageError('verify needs a token argument (or one on stdin)');
      try {
        const claims = verifyToken(key(), token, Date.now());
        process.stdout.write(`${claims.sub} ${new Date(claims.expiresAt).toISOString()}\n`);
      } catch (error) {
        throw new OperatingError('BAD_TOKEN', (error as Error).message);
      }
      return 0;
    }
    throw new UsageError(action === undefined ? 'say create or verify' : `unknown action ${JSON.stringify(action)}: say create or verify`);
  },
};
