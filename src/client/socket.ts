/**
 * Opening a WebSocket in Node or in a browser. Browsers (and Node with a global `WebSocket`) use
 * the global; Node 20 has none by default, so the `ws` package is loaded on demand. No `node:`
 * import here, and `ws` is only imported when there is no global, so bundlers for browsers can
 * leave it out.
 */

/** The part of the WHATWG WebSocket API the client uses (the global and `ws` both have it). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor; `options` is only passed to `ws` (for the Authorization header). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: { headers?: Record<string, string>; perMessageDeflate?: boolean }) => SocketLike;

async function nodeWebSocket(): Promise<WebSocketConstructor> {
  // A variable specifier keeps bundlers from pulling `ws` into a browser build.
  const specifier = 'ws';
  const module = (await import(specifier)) as { default: WebSocketConstructor };
  return module.default;
}

/**
 * Opens a socket to `url` and resolves once it is open. With the global WebSocket, which cannot
 * set headers, the token goes in `?token=`; with `ws` it goes in `Authorization: Bearer`.
 */
export async function openSocket(url: string, token: string | undefined, override?: WebSocketConstructor): Promise<SocketLike> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  const Constructor = override ?? global ?? (await nodeWebSocket());
  const usesGlobal = override === undefined && global !== undefined;
  let target = url;
  if (token !== undefined && usesGlobal) {
    const parsed = new URL(url);
    parsed.searchParams.set('token', token);
    target = parsed.toString();
  }
  const socket = usesGlobal
    ? new Constructor(target)
    : new Constructor(target, undefined, { perMessageDeflate: false, ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }) });
  socket.binaryType = 'arraybuffer';
  return new Promise((resolve, reject) => {
    socket.onopen = () => {
      // An error after opening is followed by close, which the client handles; `ws` throws on an
      // error event without a listener, so one stays attached.
      socket.onerror = () => undefined;
      resolve(socket);
    };
    socket.onerror = (event) => {
      const message = (event as { message?: string }).message ?? 'connection failed';
      reject(new Error(message));
    };
    socket.onclose = () => reject(new Error('closed while opening'));
  });
}
