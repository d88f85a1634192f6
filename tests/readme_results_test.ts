// README's results table is generated (deno task results): the committed README must equal what the generator writes
// from the committed results/ and the shipped model's metadata, so the two cannot drift apart.
import assert from "node:assert/strict";
import { readResults } from "../lib/experiments/results_doc.ts";
import {
  README_MARKERS,
  renderReadmeSummary,
  replaceReadmeBlock,
  sameText,
} from "../lib/experiments/readme_summary.ts";

const root = new URL("..", import.meta.url);

Deno.test("README's results table is what `deno task results` generates from results/ and the shipped model", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const results = await readResults(new URL("results", root).pathname);
  assert.ok(results.length > 10, "the committed results were not read");
  const shipped = JSON.parse(await Deno.readTextFile(new URL("models/appaunet-cxr/metadata.json", root)));
  const want = replaceReadmeBlock(readme, renderReadmeSummary(results, shipped));
  assert.ok(want !== undefined, "README.md lost its results markers");
  assert.ok(sameText(readme, want), "README's results table differs from the result files: run `deno task results`");
  assert.doesNotMatch(readme, /PLACEHOLDER/);
});

Deno.test("replaceReadmeBlock: replaces only between the markers; no markers, no change", () => {
  const text = `intro\n${README_MARKERS.begin}\nold\n${README_MARKERS.end}\noutro\n`;
  assert.equal(replaceReadmeBlock(text, "new"), `intro\n${README_MARKERS.begin}\nnew\n${README_MARKERS.end}\noutro\n`);
  assert.equal(replaceReadmeBlock("no markers", "new"), undefined);
  assert.match(renderReadmeSummary([]), /no results yet/);
});
