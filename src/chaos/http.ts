/**
 * `/chaos` on the agent's HTTP port: `POST` a fault as JSON to inject it, `GET` to read what is
 * injected. An agent started without `--allow-chaos` answers 403 to both, so a production agent
 * cannot be slowed down by whoever reaches its metrics port. Bodies are bounded (the request body
 * limit of {@link CHAOS_LIMITS}) and checked by {@link parseAgentFault} before anything changes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChaosController } from './controller.js';
import { ChaosError, isChaosError, type ChaosErrorCode } from './errors.js';
import { CHAOS_LIMITS, parseAgentFault } from './spec.js';

/** The HTTP status of each error code a `/chaos` request can get. */
const STATUS_OF: Partial<Record<ChaosErrorCode, number>> = {
  CHAOS_NOT_ALLOWED: 403,
  CHAOS_BAD_REQUEST: 400,
  CHAOS_BAD_FAULT: 400,
  CHAOS_UNSUPPORTED: 400,
  CHAOS_CPU_BURN_FAILED: 500,
};

function answer(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
}

function refuse(response: ServerResponse, error: ChaosError): void {
  answer(response, STATUS_OF[error.code] ?? 500, { ok: false, error: { code: error.code, message: error.message } });
}

/** Reads the whole body, refusing one past the limit as soon as it is known to be too large. */
function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > CHAOS_LIMITS.requestBodyBytesMax) {
        reject(new ChaosError('CHAOS_BAD_REQUEST', `the body is over ${CHAOS_LIMITS.requestBodyBytesMax} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // A client that goes away mid-body is an operating error of that request, not of the agent.
    request.once('error', (error) => reject(new ChaosError('CHAOS_BAD_REQUEST', `the request failed: ${error.message}`)));
  });
}

async function applyBody(controller: ChaosController, request: IncomingMessage): Promise<unknown> {
  const text = await readBody(request);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ChaosError('CHAOS_BAD_REQUEST', 'the body is not JSON; send a fault such as {"fault":"error-rate","probability":0.1}');
  }
  return { ok: true, state: await controller.apply(parseAgentFault(body)) };
}

/**
 * Serves one `/chaos` request. `controller` is undefined when the agent was started without
 * `--allow-chaos`; then every request gets 403 `CHAOS_NOT_ALLOWED`.
 */
export function serveChaosHttp(controller: ChaosController | undefined, request: IncomingMessage, response: ServerResponse): void {
  if (controller === undefined) {
    request.resume();
    refuse(response, new ChaosError('CHAOS_NOT_ALLOWED', 'this agent was started without --allow-chaos, so it refuses every fault'));
    return;
  }
  if (request.method === 'GET' || request.method === 'HEAD') {
    answer(response, 200, { ok: true, state: controller.state() });
    return;
  }
  if (request.method !== 'POST') {
    request.resume();
    response.writeHead(405, { allow: 'GET, HEAD, POST', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  applyBody(controller, request).then(
    (body) => answer(response, 200, body),
    (error: unknown) => {
      if (!isChaosError(error)) throw error;
      if (!response.headersSent && !response.destroyed) refuse(response, error);
    },
  );
}
