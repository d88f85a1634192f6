import assert from "node:assert/strict";
import * as path from "node:path";
import { decode } from "fast-png";
import {
  decodeImageBytes,
  encodeGrayPng,
  initBackend,
  loadDicomCodecs,
  predictImage,
  resizeBilinear,
  serveModel,
  train,
  writePhantomDataset,
} from "../mod.ts";
import { openModel } from "../lib/checkpoint/open_model.ts";
import { bundlePage } from "../lib/serve/bundle_page.ts";
import { REDUCED_DECODE } from "../lib/infer/predict_image.ts";
import { tinyRunOptions } from "./run_options.ts";
import { CHROMIUM as CHROMIUM_PRE, DICOM_TOOLS, gatedTest } from "./webgpu_helper.ts";
import { dicomOfImage } from "../fixtures/loader_fixtures.ts";

await initBackend({ backend: "cpu" });
const root = await Deno.makeTempDir({ prefix: "appaunet-serve-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
const data = await writePhantomDataset(path.join(root, "data"), { count: 28, size: 32, seed: 9 });
await train({ ...tinyRunOptions(data, path.join(root, "run"), { epochs: 1, overlays: 0 }), progress: "none" });
const model = path.join(root, "run", "checkpoints", "best");
const imageFile = path.join(root, "wide.png");
// A non-square image with some structure.
await Deno.writeFile(
  imageFile,
  encodeGrayPng(
    Float32Array.from({ length: 48 * 40 }, (_, i) => ((i % 48) / 48 + Math.floor(i / 48) / 40) / 2),
    48,
    40,
  ),
);
const png = await Deno.readFile(imageFile);

/** What the library's predictImage gives for the test image (the server and the page must match it). */
async function libraryPrediction() {
  const m = await openModel(model);
  try {
    return await predictImage(m, decodeImageBytes(png, "wide.png"));
  } finally {
    m.dispose();
  }
}

Deno.test("HTTP API: predictions in the image's geometry; empty, non-image, oversized, unauthorized and concurrent requests", async () => {
  const s = await serveModel({ model, port: 0, maxBodyBytes: 64 * 1024, queue: 2 });
  const post = (body: BodyInit | null, headers: Record<string, string> = {}) =>
    fetch(new URL("v1/predict", s.url), { method: "POST", body, headers });
  try {
    const ok = await post(png);
    assert.equal(ok.status, 200);
    const r = await ok.json();
    assert.deepEqual([r.width, r.height], [48, 40]);
    assert.ok(Math.abs(r.probabilities.normal + r.probabilities.opacity - 1) < 1e-5);
    const mask = decode(Uint8Array.from(atob(r.maskPng), (c) => c.charCodeAt(0)));
    assert.deepEqual([mask.width, mask.height], [48, 40]);
    assert.ok(Math.abs((mask.data as Uint8Array).filter((v) => v === 255).length / (48 * 40) - r.lungFraction) < 1e-9);
    // The same numbers as the library's predictImage.
    const direct = await libraryPrediction();
    assert.ok(Math.abs(direct.probabilities!.opacity - r.probabilities.opacity) < 1e-6);

    const empty = await post(new Uint8Array(0));
    assert.equal(empty.status, 400);
    assert.match((await empty.json()).error, /the body is empty/);
    const text = await post("hello");
    assert.equal(text.status, 415);
    assert.match((await text.json()).error, /unsupported format/);
    const truncated = await post(png.slice(0, 60));
    assert.equal(truncated.status, 400);
    assert.match((await truncated.json()).error, /cannot decode PNG/);
    const big = await post(new Uint8Array(100 * 1024));
    assert.equal(big.status, 413);
    await big.body?.cancel();
    const get = await fetch(new URL("v1/predict", s.url));
    assert.equal(get.status, 405);
    await get.body?.cancel();
    // 12 at once with room for 2 waiting: every answer is a prediction or a 503 with Retry-After, and some succeed.
    const all = await Promise.all(Array.from({ length: 12 }, () => post(png)));
    const codes = all.map((x) => x.status);
    for (const x of all) {
      if (x.status === 503) assert.equal(x.headers.get("retry-after"), "1");
      await x.body?.cancel();
    }
    assert.ok(codes.every((c) => c === 200 || c === 503), `${codes}`);
    assert.ok(codes.filter((c) => c === 200).length >= 2, `${codes}`);
  } finally {
    await s.shutdown();
  }
  // A token: required when set, on every route that reveals the model; refused to listen beyond this machine without
  // one.
  const t = await serveModel({ model, port: 0, token: "s3cret" });
  try {
    const bearer = { authorization: "Bearer s3cret" };
    for (const p of ["model/metadata.json", "model/segmentor/weights.bin", "model/discriminator/model.json"]) {
      const r = await fetch(new URL(p, t.url));
      assert.equal(r.status, 401, p);
      await r.body?.cancel();
      const ok = await fetch(new URL(p, t.url), { headers: bearer });
      assert.equal(ok.status, 200, p);
      const text = new TextDecoder().decode(new Uint8Array(await ok.arrayBuffer()));
      assert.ok(!text.includes(root), `${p} shows a local path`);
    }
    assert.deepEqual(await (await fetch(new URL("v1/health", t.url))).json(), { ok: true });
    const health = await (await fetch(new URL("v1/health", t.url), { headers: bearer })).json();
    assert.equal(health.model.size, 32);
    assert.ok(!JSON.stringify(health).includes(root), "health shows a local path");
    // A degenerate image is the client's error (400, with the reason), not the server's.
    const dot = await fetch(new URL("v1/predict", t.url), {
      method: "POST",
      body: new Uint8Array(encodeGrayPng(new Float32Array(1).fill(0.5), 1, 1)),
      headers: bearer,
    });
    assert.equal(dot.status, 400);
    assert.match((await dot.json()).error, /1×1 pixels, too small/);
    const no = await fetch(new URL("v1/predict", t.url), { method: "POST", body: png });
    assert.equal(no.status, 401);
    await no.body?.cancel();
    const yes = await fetch(new URL("v1/predict", t.url), {
      method: "POST",
      body: png,
      headers: { authorization: "Bearer s3cret" },
    });
    assert.equal(yes.status, 200);
    await yes.body?.cancel();
  } finally {
    await t.shutdown();
  }
  await assert.rejects(serveModel({ model, port: 0, hostname: "0.0.0.0" }), /needs token \(--token/);
  // Flags that cannot work are refused at start, naming the value.
  await assert.rejects(serveModel({ model, port: 0, queue: 0 }), /queue \(--queue\): must be an integer ≥ 1.*got 0/);
  await assert.rejects(serveModel({ model, port: 0, maxBodyBytes: 0 }), /maxBodyBytes \(--max-mb\): must be > 0/);
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (busy.addr as Deno.NetAddr).port;
    await assert.rejects(serveModel({ model, port }), new RegExp(`port \\(--port ${port}\\): another program listens`));
  } finally {
    busy.close();
  }
});

const CHROMIUM = "/usr/bin/chromium";

gatedTest(
  "the page runs the model in Chromium on each backend it offers, matching predict, and explains a bad file",
  [CHROMIUM_PRE],
  async () => {
    const { default: puppeteer } = await import("puppeteer-core");
    const page = await bundlePage();
    assert.ok(page.script, page.error ?? "");
    const bad = path.join(root, "bad.png");
    await Deno.writeFile(bad, png.slice(0, 60)); // a truncated PNG
    const s = await serveModel({
      model,
      port: 0,
      pageScript: page.script,
      pageChunks: page.chunks,
      files: { "/test/wide.png": imageFile, "/test/bad.png": bad },
    });
    const want = await libraryPrediction();
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless=new",
        "--no-sandbox",
        "--enable-unsafe-webgpu",
        "--enable-unsafe-swiftshader",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
    });
    const out = path.resolve("test-output");
    await Deno.mkdir(out, { recursive: true });
    try {
      const tab = await browser.newPage();
      const result = async (query: string) => {
        await tab.goto(new URL(`/?${query}`, s.url).href);
        await tab.waitForFunction('document.getElementById("result").textContent !== ""', { timeout: 120_000 });
        return JSON.parse(await tab.$eval("#result", (e) => e.textContent!));
      };
      const ran: string[] = [];
      for (const backend of ["webgpu", "webgl", "cpu"]) {
        const r = await result(`image=/test/wide.png&backend=${backend}`);
        if (r.error && /no TensorFlow\.js backend/.test(r.error)) continue; // not offered by this browser
        assert.equal(r.error, undefined, `${backend}: ${r.error}`);
        assert.equal(r.backend, backend);
        assert.deepEqual([r.width, r.height], [48, 40]);
        // Tolerance: float32 on another device (WebGL may compute in lower precision).
        for (const c of Object.keys(want.probabilities!)) {
          assert.ok(
            Math.abs(r.probabilities[c] - want.probabilities![c]) < 2e-3,
            `${backend} ${c}: ${r.probabilities[c]}`,
          );
        }
        ran.push(backend);
        await tab.screenshot({ path: path.join(out, `serve-page-${backend}.png`) });
      }
      assert.ok(ran.includes("cpu"), `backends run: ${ran}`);
      // A server with --token: the page takes the token from its address and loads the model with it.
      const guarded = await serveModel({
        model,
        port: 0,
        token: "s3cret",
        pageScript: page.script,
        pageChunks: page.chunks,
        files: { "/test/wide.png": imageFile },
      });
      try {
        await tab.goto(new URL("/?token=s3cret&image=/test/wide.png&backend=cpu", guarded.url).href);
        await tab.waitForFunction('document.getElementById("result").textContent !== ""', { timeout: 120_000 });
        const g = JSON.parse(await tab.$eval("#result", (e) => e.textContent!));
        assert.equal(g.error, undefined, g.error);
        assert.ok(!(await tab.evaluate(() => location.href)).includes("s3cret"), "the token stays in the address bar");
        await tab.goto(new URL("/?image=/test/wide.png&backend=cpu", guarded.url).href);
        await tab.waitForFunction('document.getElementById("result").textContent !== ""', { timeout: 120_000 });
        assert.match(JSON.parse(await tab.$eval("#result", (e) => e.textContent!)).error, /needs its token/);
      } finally {
        await guarded.shutdown();
      }
      const b = await result("image=/test/bad.png");
      assert.match(String(b.error), /bad\.png: cannot decode PNG/, JSON.stringify(b));
      assert.match(await tab.$eval("#error", (e) => e.textContent!), /bad\.png/);
      console.log(`page ran on ${ran.join(", ")}; screenshots in ${out}`);
    } finally {
      await browser.close();
      await s.shutdown();
    }
  },
);

Deno.test("serve: a slow client gets 408 after the body timeout, too many at once get 503, a bad Host gets 400", async () => {
  const s = await serveModel({ model, port: 0, bodyTimeoutMs: 300, maxRequests: 2 });
  const { hostname, port } = new URL(s.url);
  // Half-sent bodies, raw over TCP: headers announce 1000 bytes, 10 arrive.
  const slow = async () => {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    await conn.write(new TextEncoder().encode(
      `POST /v1/predict HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Length: 1000\r\n\r\n0123456789`,
    ));
    return conn;
  };
  const read = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    conn.close();
    return new TextDecoder().decode(buf.subarray(0, n ?? 0));
  };
  try {
    const a = await slow(), b = await slow();
    await new Promise((r) => setTimeout(r, 50));
    const c = await slow();
    assert.match(await read(c), /^HTTP\/1\.1 503/);
    const t0 = performance.now();
    assert.match(await read(a), /^HTTP\/1\.1 408/);
    assert.ok(performance.now() - t0 < 5000);
    assert.match(await read(b), /^HTTP\/1\.1 408/);
    const bad = await Deno.connect({ hostname, port: Number(port) });
    await bad.write(new TextEncoder().encode("GET /v1/health HTTP/1.1\r\nHost: exa mple\r\n\r\n"));
    assert.match(await read(bad), /^HTTP\/1\.1 400/);
  } finally {
    await s.shutdown();
  }
});

Deno.test("serve: connections past the cap get 503 at once; silent ones are closed; the server goes on answering", async () => {
  const s = await serveModel({ model, port: 0, maxConnections: 3, headerTimeoutMs: 300, idleTimeoutMs: 600 });
  const { hostname, port } = new URL(s.url);
  const open = () => Deno.connect({ hostname, port: Number(port) });
  const readAll = async (conn: Deno.Conn, ms = 5000) => {
    const chunks: string[] = [];
    const buf = new Uint8Array(4096);
    const deadline = setTimeout(() => conn.close(), ms);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        chunks.push(new TextDecoder().decode(buf.subarray(0, n)));
      }
    } catch { /* closed by the deadline */ }
    clearTimeout(deadline);
    try {
      conn.close();
    } catch { /* closed */ }
    return chunks.join("");
  };
  try {
    // Three silent connections fill the cap; a fourth is refused at once.
    const silent = await Promise.all([open(), open(), open()]);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    assert.match(await readAll(await open()), /^HTTP\/1\.1 503[\s\S]*too many open connections/);
    assert.ok(performance.now() - t0 < 1000, "the refusal was not immediate");
    // The silent ones are closed after the header timeout (EOF, nothing sent), which frees the cap.
    const t1 = performance.now();
    for (const c of silent) assert.equal(await readAll(c), "");
    const waited = performance.now() - t1;
    assert.ok(waited >= 150 && waited < 3000, `closed after ${waited} ms`);
    // A connection that sent a request and then stays idle on keep-alive is closed after the idle timeout.
    const k = await open();
    await k.write(new TextEncoder().encode(`GET /v1/health HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`));
    const t2 = performance.now();
    assert.match(await readAll(k), /^HTTP\/1\.1 200/);
    assert.ok(performance.now() - t2 >= 450, "an idle keep-alive connection was closed before the idle timeout");
    // And the server still answers.
    const r = await fetch(new URL("/v1/health", s.url));
    assert.equal(r.status, 200);
    await r.body?.cancel();
  } finally {
    await s.shutdown();
  }
});

gatedTest(
  "the page and POST /v1/predict read JPEG 2000, JPEG-LS and 12-bit JPEG DICOM (the decoders' WebAssembly comes from the server)",
  [CHROMIUM_PRE, DICOM_TOOLS],
  async () => {
    const { default: puppeteer } = await import("puppeteer-core");
    const page = await bundlePage();
    assert.ok(page.script, page.error ?? "");
    // The decoders' JavaScript is a part of its own, loaded when a DICOM needs it (not in every page load).
    assert.ok(!page.script.includes("wasmDecodeJpeg"), "the 12-bit JPEG decoder is in the page's entry");
    assert.ok(Object.values(page.chunks!).some((c) => c.includes("wasmDecodeJpeg")));
    // The test image as a 12-bit DICOM, then re-encoded by GDCM and dcmtk (lossless: the same pixels).
    const img = decodeImageBytes(png, "wide.png");
    const raw = path.join(root, "wide.dcm");
    await Deno.writeFile(raw, dicomOfImage(img, 12));
    const j2k = path.join(root, "wide-j2k.dcm"), jls = path.join(root, "wide-jls.dcm");
    const j12 = path.join(root, "wide-j12.dcm"); // 12-bit JPEG extended: lossy, compared with its own decoding
    for (
      const [cmd, args] of [["gdcmconv", ["--j2k", raw, j2k]], ["dcmcjpls", [raw, jls]], ["dcmcjpeg", [
        "+ee",
        raw,
        j12,
      ]]] as const
    ) {
      const r = new Deno.Command(cmd, { args: [...args], stdout: "null", stderr: "piped" }).outputSync();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
    }
    const m = await openModel(model);
    const want = await predictImage(m, decodeImageBytes(await Deno.readFile(raw), "wide.dcm"));
    await loadDicomCodecs({ codecs: ["ijg"] });
    const want12 = await predictImage(m, decodeImageBytes(await Deno.readFile(j12), "wide-j12.dcm"));
    m.dispose();
    const s = await serveModel({
      model,
      port: 0,
      pageScript: page.script,
      pageChunks: page.chunks,
      files: { "/test/wide-j2k.dcm": j2k, "/test/wide-jls.dcm": jls, "/test/wide-j12.dcm": j12 },
    });
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless=new", "--no-sandbox", "--disable-background-networking", "--no-first-run"],
    });
    try {
      // The HTTP API.
      const api = await fetch(new URL("/v1/predict", s.url), { method: "POST", body: await Deno.readFile(j2k) });
      const a = await api.json();
      assert.equal(api.status, 200, JSON.stringify(a));
      for (const c of Object.keys(want.probabilities!)) {
        assert.ok(Math.abs(a.probabilities[c] - want.probabilities![c]) < 1e-5, `API ${c}: ${a.probabilities[c]}`);
      }
      // A large JPEG 2000 (480×400) decodes at a coarser wavelet level (240×200: the coarsest with sides ≥ 4 × 32); the
      // answer keeps the image's own size.
      const large = {
        ...img,
        width: 480,
        height: 400,
        data: resizeBilinear(img.data, img.width, img.height, 480, 400),
      };
      const largeRaw = path.join(root, "large.dcm"), largeJ2k = path.join(root, "large-j2k.dcm");
      await Deno.writeFile(largeRaw, dicomOfImage(large, 12));
      const g = new Deno.Command("gdcmconv", { args: ["--j2k", largeRaw, largeJ2k], stderr: "piped" }).outputSync();
      assert.ok(g.success, new TextDecoder().decode(g.stderr));
      const largeBytes = await Deno.readFile(largeJ2k);
      const m2 = await openModel(model);
      assert.equal(m2.metadata.size, 32);
      const reduced = decodeImageBytes(largeBytes, "large", { minSide: REDUCED_DECODE * 32 });
      assert.deepEqual([reduced.width, reduced.height], [240, 200]);
      const wantLarge = await predictImage(m2, reduced);
      m2.dispose();
      const big = await (await fetch(new URL("/v1/predict", s.url), { method: "POST", body: largeBytes })).json();
      assert.deepEqual([big.width, big.height], [480, 400]);
      const maskImg = decodeImageBytes(Uint8Array.from(atob(big.maskPng), (c) => c.charCodeAt(0)), "mask.png");
      assert.deepEqual([maskImg.width, maskImg.height], [480, 400]);
      for (const c of Object.keys(wantLarge.probabilities!)) {
        assert.ok(Math.abs(big.probabilities[c] - wantLarge.probabilities![c]) < 1e-5, `large ${c}`);
      }
      // The page, on the cpu backend.
      const tab = await browser.newPage();
      for (const f of ["wide-j2k.dcm", "wide-jls.dcm", "wide-j12.dcm"]) {
        const expected = f === "wide-j12.dcm" ? want12 : want;
        await tab.goto(new URL(`/?image=/test/${f}&backend=cpu`, s.url).href);
        await tab.waitForFunction('document.getElementById("result").textContent !== ""', { timeout: 120_000 });
        const r = JSON.parse(await tab.$eval("#result", (e) => e.textContent!));
        assert.equal(r.error, undefined, `${f}: ${r.error}`);
        assert.deepEqual([r.width, r.height], [img.width, img.height]);
        for (const c of Object.keys(expected.probabilities!)) {
          assert.ok(
            Math.abs(r.probabilities[c] - expected.probabilities![c]) < 2e-3,
            `${f} ${c}: ${r.probabilities[c]}`,
          );
        }
      }
      assert.equal((await fetch(new URL("/codecs/nothing.wasm", s.url))).status, 404);
    } finally {
      await browser.close();
      await s.shutdown();
    }
  },
);
