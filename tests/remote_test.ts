// The CLI run from a URL, as a user of the published package runs it: the package's files (exactly what
// `deno publish --dry-run` lists) are served on localhost with bare specifiers rewritten as JSR rewrites them, and
// `deno run <url>/cli.ts` runs in an empty folder with no config. demo (which must generate its phantoms), train,
// predict (a run's checkpoint and `--model pretrained`, which must download the shipped model), and `deno install`.
import assert from "node:assert/strict";
import * as path from "node:path";
import { rewriteSpecifiers, servePackage } from "./package_server.ts";
import { gatedTest, LINUX, WEBGPU } from "./webgpu_helper.ts";

const VERSION: string = JSON.parse(await Deno.readTextFile(path.join(import.meta.dirname!, "..", "deno.json"))).version;
/** `appaunet <version> `, as `--version` prints it. */
const VERSION_TEXT = `appaunet ${VERSION.replaceAll(".", "\\.")} `;

Deno.test("rewriteSpecifiers maps bare specifiers (static, dynamic, subpaths) and leaves the rest", () => {
  const imports = { "@tensorflow/tfjs": "npm:@tensorflow/tfjs@4.22.0", "csv-parse/sync": "npm:csv-parse@7.0.3/sync" };
  const src = [
    'import * as tf from "@tensorflow/tfjs";',
    'await import("@tensorflow/tfjs");',
    'import { parse } from "csv-parse/sync";',
    'import { x } from "./local.ts";',
    'import * as path from "node:path";',
    'export * from "@tensorflow/tfjs";',
  ].join("\n");
  const out = rewriteSpecifiers(src, imports).split("\n");
  assert.equal(out[0], 'import * as tf from "npm:@tensorflow/tfjs@4.22.0";');
  assert.equal(out[1], 'await import("npm:@tensorflow/tfjs@4.22.0");');
  assert.equal(out[2], 'import { parse } from "npm:csv-parse@7.0.3/sync";');
  assert.equal(out[3], 'import { x } from "./local.ts";');
  assert.equal(out[4], 'import * as path from "node:path";');
  assert.equal(out[5], 'export * from "npm:@tensorflow/tfjs@4.22.0";');
});

gatedTest("the CLI run from a URL: --version, demo, train, predict (checkpoint and pretrained), deno install", [
  WEBGPU,
  LINUX,
], async () => {
  const server = await servePackage();
  const dir = await Deno.makeTempDir({ prefix: "appaunet-remote-" });
  const cache = path.join(dir, "cache");
  const env = { NO_COLOR: "1", APPAUNET_CACHE_DIR: cache, XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "" };
  const deno = async (args: string[]) => {
    const o = await new Deno.Command(Deno.execPath(), { args, cwd: dir, env }).output();
    const out = new TextDecoder().decode(o.stdout);
    const err = new TextDecoder().decode(o.stderr).split("\n").filter((l) => !l.startsWith("Download ")).join("\n");
    assert.equal(o.code, 0, `deno ${args.join(" ")} exited ${o.code}:\n${out}\n${err}`);
    return out + err;
  };
  const cli = (...args: string[]) =>
    deno(["run", "-A", "--no-config", `--reload=${server.url}`, new URL("cli.ts", server.url).href, ...args]);
  try {
    assert.ok(!server.files.some((f) => f.startsWith("fixtures/")), "the package carries no phantom images");
    assert.match(await cli("--version"), new RegExp(VERSION_TEXT));

    const demo = await cli("demo", "--epochs", "1");
    assert.match(demo, /generated the demo's \d+ synthetic phantoms/);
    assert.match(demo, /Dice\s+\d\.\d+/);
    assert.ok((await Deno.stat(path.join(dir, "runs/demo/checkpoints/best/COMPLETE"))).isFile);

    const data = path.join(cache, "demo-phantoms-v2");
    await cli("train", "--data", path.join(data, "manifest.csv"), "--out", "runs/t", "--epochs", "1", "--size", "32");
    assert.ok((await Deno.stat(path.join(dir, "runs/t/checkpoints/last/COMPLETE"))).isFile);

    await cli("predict", "--model", "runs/demo/checkpoints/best", "--out", "pred", path.join(data, "images"));
    const images = [...Deno.readDirSync(path.join(data, "images"))].map((e) => e.name).sort();
    const lines = (await Deno.readTextFile(path.join(dir, "pred/predictions.jsonl"))).trim().split("\n");
    assert.equal(lines.length, images.length);

    await cli("predict", "--model", "pretrained", "--out", "pred2", path.join(data, "images", images[0]));
    const [record] = (await Deno.readTextFile(path.join(dir, "pred2/predictions.jsonl"))).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert.ok(["normal", "tb"].includes(record.predictedClass), JSON.stringify(record));
    const models = [...Deno.readDirSync(path.join(cache, "models"))].map((e) => e.name);
    assert.equal(models.length, 1, `one downloaded model, no leftovers: ${models}`);
    assert.match(models[0], /^appaunet-cxr-[0-9a-f]{16}$/);

    const root = path.join(dir, "install");
    await deno(["install", "-g", "-A", "--no-config", "--root", root, "-n", "appaunet", `${server.url}cli.ts`]);
    const o = await new Deno.Command(path.join(root, "bin", "appaunet"), { args: ["--version"], cwd: dir, env })
      .output();
    assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
    assert.match(new TextDecoder().decode(o.stdout), new RegExp(`^${VERSION_TEXT}`));
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
