/**
 * Inference speed where users run it: requests per second of `POST /v1/predict` (sequential and 4 at a time) and the
 * in-browser page's latency per backend (first image, then the median of 5 more), for a default-size APPAU-Net
 * (depth 4, base 16, random weights: speed does not depend on them) at 128² and 256².
 * `deno run -A bench/serve_bench.ts [sizes=128,256] [backend=webgpu]`. Needs /usr/bin/chromium for the page part.
 * Do not run it while a training runs on the same machine.
 *
 * @module
 */
import * as path from "node:path";
import { createAppauNet, encodeGrayPng, generatePhantoms, initBackend, saveCheckpoint, serveModel } from "../mod.ts";
import { bundlePage } from "../lib/serve/bundle_page.ts";

const sizes = (Deno.args[0] ?? "128,256").split(",").map(Number);
const backend = (Deno.args[1] ?? "webgpu") as "webgpu" | "cpu";
const info = await initBackend({ backend });
console.log(`server backend ${info.backend}${info.adapter ? `, adapter ${info.adapter.description}` : ""}`);
const page = await bundlePage();
const chromium = await Deno.stat("/usr/bin/chromium").then(() => true, () => false);
const dir = await Deno.makeTempDir({ prefix: "appaunet-serve-bench-" });
// A synthetic 512 × 512 chest phantom (no patient data), as a PNG.
const ph = generatePhantoms({ count: 1, size: 512, seed: 3 })[0];
const imageFile = path.join(dir, "phantom.png");
await Deno.writeFile(imageFile, encodeGrayPng(ph.image, 512, 512));
const png = await Deno.readFile(imageFile);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows: string[] = [];
for (const size of sizes) {
  const net = createAppauNet({ size, seed: 1 });
  const model = path.join(dir, `m${size}`);
  await saveCheckpoint(model, {
    models: { segmentor: net.segmentor, discriminator: net.discriminator },
    optimizers: {},
    state: { epoch: 0 },
    config: { mode: "mtl", size, seed: 0, batchSize: 1, normalize: "unit", classNames: ["normal", "tb"] },
  });
  net.segmentor.dispose();
  net.discriminator.dispose();
  const s = await serveModel({
    model,
    port: 0,
    queue: 64,
    pageScript: page.script,
    files: { "/bench/phantom.png": imageFile },
  });
  const post = async () => {
    const r = await fetch(new URL("v1/predict", s.url), { method: "POST", body: png });
    if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
    await r.json();
  };
  for (let i = 0; i < 3; i++) await post(); // compile and warm
  let t0 = performance.now();
  const n = 20;
  for (let i = 0; i < n; i++) await post();
  const seq = n / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let i = 0; i < n / 4; i++) await Promise.all([post(), post(), post(), post()]);
  const par = n / ((performance.now() - t0) / 1000);
  rows.push(
    `| API, server ${info.backend} | ${size}² | ${seq.toFixed(2)} req/s sequential, ${
      par.toFixed(2)
    } req/s 4 at a time |`,
  );
  if (chromium && page.script) {
    const { default: puppeteer } = await import("puppeteer-core");
    const browser = await puppeteer.launch({
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: ["--headless=new", "--no-sandbox", "--enable-unsafe-webgpu", "--enable-unsafe-swiftshader"],
    });
    try {
      for (const b of ["webgpu", "webgl", "cpu"]) {
        const tab = await browser.newPage();
        await tab.goto(new URL(`/?image=/bench/phantom.png&backend=${b}`, s.url).href);
        await tab.waitForFunction('document.getElementById("result").textContent !== ""', { timeout: 600_000 });
        const first = JSON.parse(await tab.$eval("#result", (e) => e.textContent!));
        if (first.error) {
          rows.push(`| page, ${b} | ${size}² | ${first.error} |`);
          await tab.close();
          continue;
        }
        const steady: number[] = [];
        for (let i = 0; i < 5; i++) {
          steady.push((await tab.evaluate('appaunetRun("/bench/phantom.png")') as { ms: number }).ms);
        }
        rows.push(
          `| page, Chromium ${b} | ${size}² | first image ${first.ms.toFixed(0)} ms, then ${
            median(steady).toFixed(0)
          } ms (median of 5) |`,
        );
        await tab.close();
      }
    } finally {
      await browser.close();
    }
  }
  await s.shutdown();
}
console.log(`\n| where | size | time |\n| --- | --- | --- |\n${rows.join("\n")}`);
await Deno.remove(dir, { recursive: true });
