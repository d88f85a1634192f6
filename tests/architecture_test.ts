// The layout docs/ARCHITECTURE.md describes, kept: imports run bottom up, no cycles, inference and the browser
// entry never reach training code.
import assert from "node:assert/strict";
import {
  forbiddenReaches,
  importCycles,
  type ImportGraph,
  importsOf,
  readImportGraph,
  upwardImports,
} from "./import_graph.ts";

const root = new URL("..", import.meta.url).pathname;
const graph = readImportGraph(root);

Deno.test("architecture: no import climbs from a lower floor to a higher one", () => {
  assert.ok(graph.size > 100, `only ${graph.size} files read`);
  assert.deepEqual(upwardImports(graph), []);
});

Deno.test("architecture: no import cycle", () => {
  assert.deepEqual(importCycles(graph), []);
});

Deno.test("architecture: web.ts, lib/serve/ and lib/infer/ never reach training, experiments or the CLI", () => {
  assert.deepEqual(forbiddenReaches(graph), []);
});

Deno.test("architecture: the checks find what they look for (a made-up graph with every fault)", () => {
  const bad: ImportGraph = new Map([
    ["lib/io/a.ts", ["lib/train/b.ts"]], // climbs
    ["lib/train/b.ts", ["lib/io/a.ts"]], // with the line above: a cycle
    ["lib/serve/c.ts", ["lib/infer/d.ts"]],
    ["lib/infer/d.ts", ["lib/io/a.ts"]], // reaches lib/train through a.ts
  ]);
  assert.deepEqual(upwardImports(bad), ["lib/io/a.ts → lib/train/b.ts"]);
  assert.deepEqual(importCycles(bad), [["lib/io/a.ts", "lib/train/b.ts"]]);
  assert.ok(forbiddenReaches(bad).includes("lib/serve/c.ts → lib/infer/d.ts → lib/io/a.ts → lib/train/b.ts"));
  assert.throws(() => upwardImports(new Map([["lib/nowhere/x.ts", []]])), /on no floor/);
});

Deno.test("architecture: imports are read from code, not from JSDoc examples or comments", () => {
  const src = [
    "/**",
    " * ```ts",
    ' * import { x } from "./in_example.ts";',
    " * ```",
    " */",
    '// import { y } from "./in_comment.ts";',
    'import { z } from "./real.ts";',
    'import "./side_effect.ts";',
    'const w = new Worker(new URL("./worker.ts", import.meta.url).href);',
    'const m = await import("./lazy.ts");',
  ].join("\n");
  assert.deepEqual(importsOf(src).sort(), ["./lazy.ts", "./real.ts", "./side_effect.ts", "./worker.ts"]);
});
