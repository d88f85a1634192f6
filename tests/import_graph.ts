/**
 * The import graph of appaunet's own files and the rules docs/ARCHITECTURE.md states: the floors (folders) imports
 * climb from, no cycles, and the browser entry and the server never reaching training code.
 *
 * @module
 */
import * as path from "node:path";

/** Floors, bottom up: a file may import files on its own floor or below. */
export const FLOORS: readonly (readonly string[])[] = [
  ["lib/io", "lib/kernels", "lib/model", "lib/losses"],
  ["lib/runtime", "lib/data", "lib/checkpoint"],
  ["lib/metrics"],
  ["lib/infer"],
  ["lib/report"],
  ["lib/train"],
  ["lib/serve", "lib/experiments", "lib/cli", "."],
];

/** Files that must not reach (directly or through others) the folders named. */
export const NEVER_REACH: Record<string, string[]> = {
  "web.ts": ["lib/train", "lib/experiments", "lib/cli"],
  "lib/serve": ["lib/train", "lib/experiments", "lib/cli"],
  "lib/infer": ["lib/train", "lib/experiments", "lib/cli", "lib/serve", "lib/report"],
};

/** File → the repository files it imports (relative specifiers only), paths relative to the root. */
export type ImportGraph = Map<string, string[]>;

/** The relative `.ts` specifiers a source imports (JSDoc examples and comments are ignored). */
export function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  const patterns = [
    /\bfrom\s+["'](\.{1,2}\/[^"']+)["']/g,
    /\bimport\s+["'](\.{1,2}\/[^"']+)["']/g,
    /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
    /new URL\(\s*["'](\.{1,2}\/[^"']+\.ts)["']\s*,\s*import\.meta\.url\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]);
  return out;
}

/** Reads the graph of `lib/**` and the root entry files under `root`. */
export function readImportGraph(root: string): ImportGraph {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(path.join(root, dir))) {
      const rel = dir === "." ? e.name : `${dir}/${e.name}`;
      if (e.isDirectory) walk(rel);
      else if (e.name.endsWith(".ts")) files.push(rel);
    }
  };
  walk("lib");
  for (const f of ["mod.ts", "web.ts", "cli.ts", "tf.ts"]) files.push(f);
  const graph: ImportGraph = new Map();
  for (const f of files) {
    const deps = importsOf(Deno.readTextFileSync(path.join(root, f)))
      .map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(f), s)))
      .filter((d) => d !== f);
    graph.set(f, [...new Set(deps)]);
  }
  return graph;
}

/** The folder of a file as the floors name it (`lib/x`, or `.` for root files). */
export function folderOf(file: string): string {
  const parts = file.split("/");
  return parts[0] === "lib" && parts.length > 2 ? `lib/${parts[1]}` : ".";
}

function floorOf(file: string): number {
  const folder = folderOf(file);
  const i = FLOORS.findIndex((f) => f.includes(folder));
  if (i < 0) throw new Error(`${file}: its folder ${folder} is on no floor; add it to FLOORS and docs/ARCHITECTURE.md`);
  return i;
}

/** Imports that climb: from a file to one on a higher floor. */
export function upwardImports(graph: ImportGraph): string[] {
  const out: string[] = [];
  for (const [f, deps] of graph) {
    const floor = floorOf(f); // every file's folder must be on a floor, even one that imports nothing
    for (const d of deps) if (floorOf(d) > floor) out.push(`${f} → ${d}`);
  }
  return out.sort();
}

/** Import cycles (strongly connected sets of more than one file), each sorted. */
export function importCycles(graph: ImportGraph): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), on = new Set<string>();
  const stack: string[] = [], out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index), low.set(v, index++), stack.push(v), on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!));
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do (w = stack.pop()!, on.delete(w), scc.push(w)); while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** Paths (file → … → file) by which a file under a key of `rules` reaches a folder it must not. */
export function forbiddenReaches(graph: ImportGraph, rules: Record<string, string[]> = NEVER_REACH): string[] {
  const out: string[] = [];
  for (const [from, banned] of Object.entries(rules)) {
    const starts = [...graph.keys()].filter((f) => f === from || f.startsWith(`${from}/`));
    for (const s of starts) {
      const seen = new Map<string, string | null>([[s, null]]);
      const queue = [s];
      while (queue.length) {
        const v = queue.shift()!;
        if (banned.includes(folderOf(v))) {
          const chain = [v];
          for (let p = seen.get(v); p; p = seen.get(p)) chain.unshift(p);
          out.push(chain.join(" → "));
          break;
        }
        for (const w of graph.get(v) ?? []) if (!seen.has(w)) seen.set(w, v), queue.push(w);
      }
    }
  }
  return out;
}
