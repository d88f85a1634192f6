/**
 * Builds the in-browser page's script: `page.ts` with tfjs and appaunet's browser-safe code, bundled by
 * `deno bundle --platform browser` (esbuild, fetched once by Deno from npm).
 *
 * @module
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Bundles the page script, or explains why it could not (then `serve` runs the HTTP API only).
 *
 * @returns the JavaScript, or the reason there is none
 */
export async function bundlePage(): Promise<{ script?: string; error?: string }> {
  const src = new URL("./page.ts", import.meta.url);
  if (src.protocol !== "file:") return { error: `the page's source is at ${src.href}; serve from a checkout` };
  const out = path.join(await Deno.makeTempDir({ prefix: "appaunet-page-" }), "app.js");
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "browser", "--minify", "-o", out, fileURLToPath(src)],
      cwd: path.join(path.dirname(fileURLToPath(src)), "..", ".."),
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (r.code !== 0) return { error: `deno bundle failed: ${new TextDecoder().decode(r.stderr).trim().slice(-500)}` };
    return { script: await Deno.readTextFile(out) };
  } finally {
    await Deno.remove(path.dirname(out), { recursive: true }).catch(() => {});
  }
}
