/**
 * Serves the package as it would be published, over HTTP on localhost, so that tests can run the CLI from a URL as a
 * user of the published package does. The files are exactly those `deno publish --dry-run` lists; bare specifiers
 * are rewritten through deno.json's `imports` (what JSR does on publish: `@tensorflow/tfjs` →
 * `npm:@tensorflow/tfjs@4.22.0`), and nothing else is changed.
 *
 * @module
 */
import * as path from "node:path";

const ROOT = path.resolve(import.meta.dirname!, "..");

/** A running package server. */
export interface PackageServer {
  /** The package root, e.g. `http://127.0.0.1:41234/`. */
  url: string;
  /** The files served, relative to the repository. */
  files: string[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** The files `deno publish --dry-run` would publish, relative to the repository. */
export async function publishedFiles(): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`deno publish --dry-run failed:\n${text}`);
  const files = [...text.matchAll(/^\s+(file:\/\/\S+)/gm)].map((m) => path.relative(ROOT, new URL(m[1]).pathname));
  if (!files.length) throw new Error(`deno publish --dry-run listed no files:\n${text}`);
  return files;
}

/**
 * Rewrites the bare specifiers of one module through an import map (exact keys, and `key/sub` for keys that do not
 * end in `/`), as JSR does when it publishes a package.
 *
 * @param source the module's text
 * @param imports deno.json's `imports`
 * @returns the rewritten text
 */
export function rewriteSpecifiers(source: string, imports: Record<string, string>): string {
  const map = (spec: string): string => {
    if (spec in imports) return imports[spec];
    for (const [k, v] of Object.entries(imports)) {
      if (spec.startsWith(k + "/")) return v + spec.slice(k.length);
    }
    return spec;
  };
  return source.replace(
    /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)"([^"./][^"]*)"/g,
    (all, lead: string, spec: string) => (spec.includes(":") ? all : `${lead}"${map(spec)}"`),
  );
}

/**
 * Starts serving the published files on 127.0.0.1 (a free port).
 *
 * @returns the server
 */
export async function servePackage(): Promise<PackageServer> {
  const files = await publishedFiles();
  const config = JSON.parse(await Deno.readTextFile(path.join(ROOT, "deno.json")));
  const imports: Record<string, string> = config.imports ?? {};
  const allowed = new Set(files);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const rel = decodeURIComponent(new URL(req.url).pathname).replace(/^\/+/, "");
    if (!allowed.has(rel)) return new Response("not in the package", { status: 404 });
    const file = path.join(ROOT, rel);
    if (rel.endsWith(".ts")) {
      const body = rewriteSpecifiers(await Deno.readTextFile(file), imports);
      return new Response(body, { headers: { "content-type": "application/typescript" } });
    }
    const type = rel.endsWith(".json") ? "application/json" : "application/octet-stream";
    return new Response(await Deno.readFile(file), { headers: { "content-type": type } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    files,
    close: () => server.shutdown(),
  };
}
