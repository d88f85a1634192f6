/**
 * `deno doc --lint` over every entry point in deno.json's `exports`, plus the project's own rule that every exported
 * function, class and constant has an `@example` that asserts (`assert…` from `node:assert/strict`), and that every
 * entry's module doc has one too. `./tf` is left out: it is tfjs 4.22.0 re-exported whole, documented by tfjs. Exits 1 on any finding; `deno task doc-lint` runs it and `deno task check` includes
 * it.
 *
 * One kind of finding is tolerated, and counted: `private-type-ref` when the referenced type is one of TensorFlow.js's
 * public types (`Tensor`, `LayersModel`, …). Deno 2.9's doc linter treats every type from an npm package as private
 * (denoland/deno#27364; the fix in denoland/deno#34339 covers only non-`file:` modules, and npm packages live in a
 * `file:` cache). They are tfjs's public API, and `@appaunet/appaunet/tf` re-exports the same copy. So that this
 * cannot hide one of our own unexported types, the script fails if any of these names is declared in `lib/`.
 *
 * ```sh
 * deno run -A .ci/doc_lint.ts
 * ```
 *
 * @module
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DENO = Deno.execPath();

/** TensorFlow.js types that may appear in our public signatures (see the module doc). */
const TFJS_TYPES = new Set([
  "Tensor",
  "Scalar",
  "Tensor1D",
  "Tensor2D",
  "Tensor3D",
  "Tensor4D",
  "Rank",
  "LayersModel",
  "Optimizer",
  "AdamOptimizer",
  "IOHandler",
  "NamedTensorMap",
]);

interface Finding {
  entry: string;
  text: string;
}

async function denoDoc(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(DENO, { args: ["doc", ...args], cwd: ROOT, env: { NO_COLOR: "1" } }).output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout), err: new TextDecoder().decode(r.stderr) };
}

/** Our own declarations of the tolerated names: each one would make the tolerance unsafe. */
async function ownDeclarations(): Promise<string[]> {
  const found: string[] = [];
  const re = new RegExp(`\\b(?:class|interface|type|enum)\\s+(${[...TFJS_TYPES].join("|")})\\b`);
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = path.join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.name.endsWith(".ts")) {
        const lines = (await Deno.readTextFile(p)).split("\n");
        lines.forEach((l, i) => {
          const m = re.exec(l);
          if (m && !l.trimStart().startsWith("*") && !l.trimStart().startsWith("//")) {
            found.push(`${path.relative(ROOT, p)}:${i + 1}: declares ${m[1]}`);
          }
        });
      }
    }
  };
  await walk(path.join(ROOT, "lib"));
  return found;
}

interface DocTag {
  kind: string;
  doc?: string;
}
interface DocDeclaration {
  location: { filename: string; line: number };
  declarationKind: string;
  kind: string;
  jsDoc?: { tags?: DocTag[] };
}
interface DocJson {
  nodes: Record<string, {
    module_doc?: { tags?: DocTag[] };
    symbols?: { name: string; declarations: DocDeclaration[] }[];
  }>;
}

function exampleFindings(entry: string, doc: DocJson): Finding[] {
  const out: Finding[] = [];
  const asserts = (tags: DocTag[]) => tags.some((t) => t.kind === "example" && /\bassert/.test(t.doc ?? ""));
  for (const [file, node] of Object.entries(doc.nodes)) {
    const rel = path.relative(ROOT, fileURLToPath(file));
    const moduleTags = node.module_doc?.tags ?? [];
    if (rel === path.normalize(entry) && !asserts(moduleTags)) {
      out.push({ entry, text: `${rel}: the module doc needs an @example that asserts` });
    }
    for (const s of node.symbols ?? []) {
      for (const d of s.declarations) {
        if (d.declarationKind !== "export" || !["function", "class", "variable"].includes(d.kind)) continue;
        const tags = d.jsDoc?.tags ?? [];
        if (!asserts(tags)) {
          const where = `${path.relative(ROOT, fileURLToPath(d.location.filename))}:${d.location.line}`;
          const what = tags.some((t) => t.kind === "example") ? "has no example that asserts" : "has no @example";
          out.push({ entry, text: `${where}: ${s.name} ${what}` });
        }
      }
    }
  }
  return out;
}

async function main(): Promise<number> {
  const config = JSON.parse(await Deno.readTextFile(path.join(ROOT, "deno.json")));
  const entries = Object.values(config.exports as Record<string, string>).filter((e) => e !== "./tf.ts");
  const findings: Finding[] = [];
  let tolerated = 0;
  for (const entry of entries) {
    const lint = await denoDoc(["--lint", entry]);
    const blocks = lint.err.split(/\n(?=error\[)/).filter((b) => b.startsWith("error["));
    for (const b of blocks) {
      const ref = /references private type '([^']+)'/.exec(b.split("\n")[0]);
      if (b.startsWith("error[private-type-ref]") && ref && TFJS_TYPES.has(ref[1])) tolerated++;
      else findings.push({ entry, text: b.trim() });
    }
    if (lint.code !== 0 && blocks.length === 0) findings.push({ entry, text: lint.err.trim() });
    const json = await denoDoc(["--json", entry]);
    if (json.code !== 0) findings.push({ entry, text: json.err.trim() });
    else findings.push(...exampleFindings(entry, JSON.parse(json.out)));
  }
  for (const d of await ownDeclarations()) {
    findings.push({ entry: "lib/", text: `${d}: a tfjs type name the doc lint tolerates; rename it` });
  }
  for (const f of findings) console.log(`${f.entry}: ${f.text}\n`);
  console.log(
    `doc lint: ${entries.length} entry points, ${findings.length} findings, ${tolerated} references to tfjs types ` +
      `tolerated (denoland/deno#27364)`,
  );
  return findings.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
