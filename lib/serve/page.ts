/// <reference lib="dom" />
/**
 * The in-browser page's script (bundled by `serve` with `deno bundle --platform browser`): loads the model from
 * `/model/`, runs it on WebGPU, else WebGL, else the cpu backend, and shows the lung overlay, the lung area and the
 * class probabilities of a dropped or picked image (PNG, JPEG or DICOM; the image never leaves the browser).
 * `?image=<url>` loads one image itself; `?backend=webgl` forces a backend. When done, `#result` holds the
 * prediction as JSON (`{ "error": … }` on failure) for scripts and tests.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { decodeImageBytes } from "../data/decode.ts";
import { withDicomCodecs } from "../data/dicom_codecs.ts";
import { lungMaskAt } from "../data/postprocess.ts";
import type { ModelMetadata } from "../checkpoint/model_metadata.ts";
import { predictImage } from "../infer/predict_image.ts";

const $ = (id: string) => document.getElementById(id)!;
const say = (id: string, text: string) => ($(id).textContent = text);

function fail(message: string) {
  say("error", message);
  say("result", JSON.stringify({ error: message }));
}

async function pickBackend(): Promise<string> {
  const want = new URLSearchParams(location.search).get("backend");
  for (const b of want ? [want] : ["webgpu", "webgl", "cpu"]) {
    try {
      if (await tf.setBackend(b)) {
        await tf.ready();
        return b;
      }
    } catch { /* the next one */ }
  }
  throw new Error("no TensorFlow.js backend could start in this browser");
}

function draw(img: { width: number; height: number; data: Float32Array }, mask: Float32Array | undefined, t: number) {
  const canvas = $("canvas") as HTMLCanvasElement;
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext("2d")!;
  const px = ctx.createImageData(img.width, img.height);
  for (let i = 0; i < img.data.length; i++) {
    const g = Math.round(Math.min(1, Math.max(0, img.data[i])) * 255);
    const lung = mask !== undefined && mask[i] >= t;
    px.data.set(
      lung ? [Math.round(0.55 * g + 115), Math.round(0.55 * g), Math.round(0.55 * g), 255] : [g, g, g, 255],
      i * 4,
    );
  }
  ctx.putImageData(px, 0, 0);
}

async function main() {
  // Long: the page's one event flow (load, choose a file, predict, draw) in order.
  const backend = await pickBackend();
  // A server started with --token serves the model files only with it: open the page as /?token=<token>. The token is
  // then taken out of the address bar (and the history).
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token) {
    params.delete("token");
    history.replaceState(null, "", `${location.pathname}${params.size ? `?${params}` : ""}`);
  }
  const requestInit = token ? { headers: { authorization: `Bearer ${token}` } } : {};
  const res = await fetch("/model/metadata.json", requestInit);
  if (res.status === 401) throw new Error("this server needs its token: open the page as /?token=<token>");
  const meta = await res.json() as ModelMetadata;
  const load = (url: string) => tf.loadLayersModel(url, { requestInit });
  const segmentor = meta.mode !== "cls" ? await load("/model/segmentor/model.json") : undefined;
  const discriminator = meta.mode !== "seg" ? await load("/model/discriminator/model.json") : undefined;
  say("status", `model ready: ${meta.size}² input, classes ${meta.classNames.join(", ")}, backend ${backend}`);
  let first = true;
  const run = async (bytes: Uint8Array, name: string) => {
    say("error", "");
    say("result", "");
    try {
      const t0 = performance.now();
      // DICOM may be compressed (JPEG, JPEG-LS, JPEG 2000): the decoder it needs comes from the server, once.
      const img = await withDicomCodecs(() => decodeImageBytes(bytes, name), { wasmBase: "/codecs/" });
      const p = await predictImage({ segmentor, discriminator, metadata: meta }, img);
      // Post-processing (two largest components, holes filled) unless ?postprocess=0.
      const postprocess = new URLSearchParams(location.search).get("postprocess") !== "0";
      const full = p.mask
        ? Float32Array.from(
          lungMaskAt(p.mask, p.size, img.width, img.height, { threshold: meta.threshold, postprocess }),
        )
        : undefined;
      let lungFraction: number | undefined;
      if (full) {
        let n = 0;
        for (const v of full) n += v;
        lungFraction = n / full.length;
      }
      const ms = performance.now() - t0;
      draw(img, full, 0.5);
      const result = {
        name,
        backend,
        width: img.width,
        height: img.height,
        probabilities: p.probabilities,
        predictedClass: p.predictedClass,
        lungFraction,
        ms,
        first,
      };
      first = false;
      $("numbers").innerHTML = [
        lungFraction !== undefined ? `lung area: ${(lungFraction * 100).toFixed(1)} % of the image` : "",
        ...Object.entries(p.probabilities ?? {}).map(([c, v]) => `${c}: ${(v * 100).toFixed(1)} %`),
        `${ms.toFixed(0)} ms on ${backend}`,
      ].filter(Boolean).map((l) => `<div>${l}</div>`).join("");
      say("result", JSON.stringify(result));
    } catch (e) {
      const msg = (e as Error).message;
      fail(msg.startsWith(`${name}: `) ? msg : `${name}: ${msg}`);
    }
  };
  const fromFile = async (f: File) => await run(new Uint8Array(await f.arrayBuffer()), f.name);
  ($("file") as HTMLInputElement).addEventListener("change", (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void fromFile(f);
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const f = e.dataTransfer?.files[0];
    if (f) void fromFile(f);
  });
  const fromUrl = async (image: string) => {
    const r = await fetch(image);
    if (!r.ok) return fail(`${image}: ${r.status} ${r.statusText}`);
    await run(new Uint8Array(await r.arrayBuffer()), image.split("/").pop() || image);
  };
  // For scripts (the benchmark): run another image in this page and return #result's JSON.
  (globalThis as unknown as { appaunetRun: (url: string) => Promise<unknown> }).appaunetRun = async (url: string) => {
    await fromUrl(url);
    return JSON.parse($("result").textContent || "{}");
  };
  const image = new URLSearchParams(location.search).get("image");
  if (image) await fromUrl(image);
}

main().catch((e) => fail((e as Error).message));
