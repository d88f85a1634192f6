/**
 * `results`: see its usage text (lib/cli/usage.ts).
 *
 * @module
 */
import * as path from "node:path";
import { writeReadmeSummary } from "../../experiments/readme_summary.ts";
import { exists } from "../../io/fs.ts";
import { writeResults } from "../../../mod.ts";
import { parse } from "../shell.ts";
import { USAGE } from "../usage.ts";
import type { Command } from "../command.ts";

async function run(argv: string[]) {
  const { values: v } = parse("results", argv, {
    results: { type: "string" },
    out: { type: "string" },
    readme: { type: "string" },
  });
  if (v.help) return console.log(USAGE.results);
  const resultsDir = (v.results as string | undefined) ?? "results";
  const r = await writeResults(resultsDir, (v.out as string | undefined) ?? path.join("docs", "RESULTS.md"));
  // README's results table: the checkout's README from the checkout's results/ (other result folders, e.g. a test's,
  // update a README only when --readme names it).
  const readme = (v.readme as string | undefined) ??
    (v.results === undefined && await exists("README.md") ? "README.md" : undefined);
  if (readme && await writeReadmeSummary(resultsDir, readme, path.join("models", "appaunet-cxr", "metadata.json"))) {
    // Wrapped as `deno task check` expects.
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", readme], stdout: "null", stderr: "null" }).output()
      .catch(() => {});
    r.written.push(readme);
  }
  console.log(`read ${r.read} result(s); wrote ${r.written.join(", ")}`);
}

/** The `results` command. */
export const resultsCommand: Command = { name: "results", run };
