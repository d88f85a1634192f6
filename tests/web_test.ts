import assert from "node:assert/strict";
import * as path from "node:path";

/** Bundles an entry for the browser with `deno bundle` and returns the JavaScript. */
async function bundle(entry: string): Promise<string> {
  const out = path.join(await Deno.makeTempDir(), "bundle.js");
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "browser", "-o", out, entry],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return await Deno.readTextFile(out);
}

/**
 * What keeps a bundle from running in a browser: uses of the Deno namespace and node: imports. The DICOM codecs'
 * Emscripten glue requires node:fs and node:path inside `if (ENVIRONMENT_IS_NODE)`, a branch browsers never take:
 * those are allowed (the page test runs the bundle with the codecs in Chromium).
 */
function nonBrowser(js: string): string[] {
  const found = new Set<string>();
  for (const m of js.matchAll(/\bDeno\.[A-Za-z]+/g)) found.add(m[0]);
  for (const m of js.matchAll(/["']node:[a-z_/]+["']/g)) {
    const before = js.slice(Math.max(0, m.index! - 200), m.index!);
    if (/if \(ENVIRONMENT_IS_NODE\) \{[^}]*__require\($/.test(before)) continue;
    found.add(m[0]);
  }
  return [...found];
}

Deno.test("the ./web entry bundles for the browser with no Deno and no node: import, and holds the inference API", async () => {
  const js = await bundle("web.ts");
  assert.deepEqual(nonBrowser(js), []);
  // The check itself: the full module (files, backend setup) is not browser-safe, and the check says so.
  const full = await bundle("mod.ts");
  assert.ok(nonBrowser(full).some((x) => x.startsWith("Deno.")), "the full module uses Deno");
  // Bundled for the browser, tfjs takes its browser platform, so the bundle does not run under Deno; a real browser
  // run belongs to the in-browser page's tests.
  assert.ok(js.includes("prepareImage") && js.includes("predictImage") && js.includes("kltvLossPerImage"));
});
