/**
 * Builds the in-browser page's script: `page.ts` with tfjs and appaunet's browser-safe code, bundled by
 * `deno bundle --platform browser` (esbuild, fetched once by Deno from npm).
 *
 * @module
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** The page's script: its entry and the parts it imports when it needs them. */
export interface PageBundle {
  /** The entry, served as `/app.js`; absent when the bundle could not be built. */
  script?: string;
  /**
   * Code-split parts by file name (served beside `/app.js`): the DICOM decoders' JavaScript, which the page imports
   * only when a compressed DICOM needs it (the 12-bit JPEG decoder alone is ≈ 0.75 MB).
   */
  chunks?: Record<string, string>;
  /** Why there is no script. */
  error?: string;
}

/**
 * Bundles the page script, code-split, or explains why it could not (then `serve` runs the HTTP API only).
 *
 * @returns the entry and its parts, or the reason there are none
 */
export async function bundlePage(): Promise<PageBundle> {
  const src = new URL("./page.ts", import.meta.url);
  if (src.protocol !== "file:") return { error: `the page's source is at ${src.href}; serve from a checkout` };
  const dir = await Deno.makeTempDir({ prefix: "appaunet-page-" });
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "browser", "--minify", "--code-splitting", "--outdir", dir, fileURLToPath(src)],
      cwd: path.join(path.dirname(fileURLToPath(src)), "..", ".."),
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (r.code !== 0) return { error: `deno bundle failed: ${new TextDecoder().decode(r.stderr).trim().slice(-500)}` };
    const chunks: Record<string, string> = {};
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".js")) chunks[e.name] = await Deno.readTextFile(path.join(dir, e.name));
    }
    const script = chunks["page.js"];
    delete chunks["page.js"];
    return script ? { script, chunks } : { error: `deno bundle wrote no page.js (${Object.keys(chunks).join(", ")})` };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
