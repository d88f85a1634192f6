/**
 * Listening: the HTTP server on a Unix socket in a private folder behind the TCP front (connection_guard.ts), which
 * caps open connections and closes silent ones (Deno.serve cannot); where Unix sockets are not offered (Windows),
 * Deno.serve listens directly. Errors name the flag (`--port`, `--host`) and what to do.
 *
 * @module
 */
import { type ConnectionGuard, guardConnections } from "./connection_guard.ts";
import { json } from "./http.ts";
import type { ServeLimits } from "./limits.ts";

/** A listening server. */
export interface Listening {
  /** The public address. */
  addr: Deno.NetAddr;
  /** The HTTP server. */
  server: Deno.HttpServer;
  /** Stops accepting new connections (requests in flight go on). */
  stopAccepting(): void;
  /** Closes everything left (relayed connections, the socket folder). */
  close(): Promise<void>;
}

/**
 * Starts listening.
 *
 * @param handler the request handler
 * @param limits the server's limits (address, connection cap, timeouts)
 * @param port the public port (0: any free one)
 * @param signal stops the server
 * @returns the listening server
 * @throws {Error} naming `--port` or `--host` when the address is taken or not available
 */
export async function listen(
  handler: (req: Request) => Promise<Response>,
  limits: ServeLimits,
  port: number,
  signal?: AbortSignal,
): Promise<Listening> {
  const { hostname, maxConnections, headerTimeoutMs, idleTimeoutMs } = limits;
  const socketDir = Deno.build.os !== "windows" ? await Deno.makeTempDir({ prefix: "appaunet-serve-" }) : undefined;
  const removeSocketDir = async () => {
    if (socketDir) await Deno.remove(socketDir, { recursive: true }).catch(() => {});
  };
  let server: Deno.HttpServer;
  let guard: ConnectionGuard | undefined;
  let addr: Deno.NetAddr;
  try {
    if (socketDir) {
      const socket = `${socketDir}/http.sock`;
      let listened!: () => void;
      const listening = new Promise<void>((r) => (listened = r));
      server = Deno.serve({
        path: socket,
        signal,
        onListen: () => listened(),
        onError: (e) => json(500, { error: (e as Error).message }),
      }, handler);
      await listening;
      try {
        guard = guardConnections({ hostname, port, target: socket, maxConnections, headerTimeoutMs, idleTimeoutMs });
      } catch (e) {
        await server.shutdown();
        throw e;
      }
      addr = guard.addr;
      signal?.addEventListener("abort", () => guard!.stopAccepting(), { once: true });
    } else {
      let listened!: (a: Deno.NetAddr) => void;
      const listening = new Promise<Deno.NetAddr>((r) => (listened = r));
      server = Deno.serve({
        port,
        hostname,
        signal,
        onListen: (a) => listened(a as Deno.NetAddr),
        onError: (e) => json(500, { error: (e as Error).message }),
      }, handler);
      addr = await listening;
    }
  } catch (e) {
    await removeSocketDir();
    if (e instanceof Deno.errors.AddrInUse) {
      throw new Error(`port (--port ${port}): another program listens on ${hostname}:${port}; pick another --port`);
    }
    if (e instanceof Deno.errors.AddrNotAvailable || e instanceof Deno.errors.PermissionDenied) {
      throw new Error(
        `hostname, port (--host ${hostname} --port ${port}): cannot listen there (${(e as Error).message})`,
      );
    }
    throw e;
  }
  return {
    addr,
    server,
    stopAccepting: () => guard?.stopAccepting(),
    close: async () => {
      guard?.close();
      await removeSocketDir();
    },
  };
}
