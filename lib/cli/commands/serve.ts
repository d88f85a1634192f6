/**
 * `serve`: see its usage text (lib/cli/usage.ts).
 *
 * @module
 */
import { bundlePage } from "../../serve/bundle_page.ts";
import { serveModel } from "../../../mod.ts";
import { num, parse, setup, UsageError } from "../shell.ts";
import { USAGE } from "../usage.ts";
import type { Command } from "../command.ts";

async function run(argv: string[]) {
  const { values: v } = parse("serve", argv, {
    model: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    token: { type: "string" },
    "max-mb": { type: "string" },
    queue: { type: "string" },
    "max-connections": { type: "string" },
    "no-postprocess": { type: "boolean" },
  });
  if (v.help) return console.log(USAGE.serve);
  if (!v.model) throw new UsageError(`--model is required\n\n${USAGE.serve}`);
  await setup(v);
  const page = await bundlePage();
  if (page.error) console.error(`warning: no browser page (${page.error}); serving the HTTP API only`);
  const ac = new AbortController();
  let signals = 0;
  // The first signal shuts the server down (in-flight requests finish); a second one quits at once.
  const stop = () => (++signals > 1 ? Deno.exit(130) : ac.abort());
  for (const s of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(s, stop);
  const mb = num("max-mb", v["max-mb"]);
  const server = await serveModel({
    model: v.model as string,
    port: num("port", v.port) ?? 8080,
    hostname: v.host as string | undefined,
    token: (v.token as string | undefined) ?? Deno.env.get("APPAUNET_TOKEN"),
    maxBodyBytes: mb !== undefined ? mb * 2 ** 20 : undefined,
    queue: num("queue", v.queue),
    maxConnections: num("max-connections", v["max-connections"]),
    postprocess: !v["no-postprocess"],
    pageScript: page.script,
    pageChunks: page.chunks,
    signal: ac.signal,
  });
  console.log(`serving ${v.model} at ${server.url} (POST ${server.url}v1/predict); Ctrl-C stops`);
  await server.finished;
  for (const s of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(s, stop);
}

/** The `serve` command. */
export const serveCommand: Command = { name: "serve", run };
