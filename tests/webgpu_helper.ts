/**
 * Shared by the test files: each test's real preconditions, stated once. A test whose precondition is missing is
 * skipped with a name that says what is missing and how to get it; CI sets `APPAUNET_REQUIRE` (e.g.
 * `webgpu,real-data,chromium`) so that a missing precondition it names fails the test instead.
 *
 * @module
 */
import * as path from "node:path";
import { webgpuAvailable } from "../mod.ts";

/** Whether a WebGPU adapter can be obtained here. */
export const webgpu: boolean = await webgpuAvailable();

/** A precondition of a test. */
export interface Precondition {
  /** Its name in `APPAUNET_REQUIRE`. */
  name: string;
  /** Whether it holds here. */
  ok: boolean;
  /** What is missing and how to get it. */
  fix: string;
}

const exists = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};

/** The real data set's manifest. */
export const REAL_DATA_CSV: string = path.resolve(
  import.meta.dirname!,
  "..",
  "..",
  "shared",
  "data",
  "montgomery-shenzhen-cxr-256",
  "labels.csv",
);

/** A WebGPU adapter. */
export const WEBGPU: Precondition = {
  name: "webgpu",
  ok: webgpu,
  fix: "no WebGPU adapter; install mesa-vulkan-drivers",
};
/** The real Montgomery + Shenzhen data next to the repository. */
export const REAL_DATA: Precondition = {
  name: "real-data",
  ok: exists(REAL_DATA_CSV),
  fix: "../shared/data/montgomery-shenzhen-cxr-256 is absent",
};
/** Debian's Chromium. */
export const CHROMIUM: Precondition = {
  name: "chromium",
  ok: exists("/usr/bin/chromium"),
  fix: "/usr/bin/chromium is not installed; apt-get install chromium",
};
/** Debian's Python with numpy, scipy and Pillow (the independent scorer `experiments/score_predictions.py`). */
let scipyOk: boolean | undefined;
export const SCIPY: Precondition = {
  name: "scipy",
  // Asked only by the tests that need it (it starts a Python process), once.
  get ok() {
    if (scipyOk === undefined) {
      try {
        scipyOk = new Deno.Command("/usr/bin/python3", {
          args: ["-c", "import numpy, scipy, PIL"],
          stdout: "null",
          stderr: "null",
        }).outputSync().success;
      } catch {
        scipyOk = false;
      }
    }
    return scipyOk;
  },
  fix: "/usr/bin/python3 lacks numpy, scipy or PIL; apt-get install python3-numpy python3-scipy python3-pil",
};
/** The field's DICOM tools from Debian: dcmtk, GDCM, dicom3tools and pydicom (to build and check DICOM files). */
export const DICOM_TOOLS: Precondition = {
  name: "dicom-tools",
  ok:
    ["dcmcjpeg", "dcmcjpls", "dcmcrle", "dcmconv", "gdcmconv", "dciodvfy", "ojph_compress", "ojph_expand"].every((t) =>
      exists(`/usr/bin/${t}`)
    ) && exists("/usr/lib/python3/dist-packages/pydicom"),
  fix: "apt-get install dcmtk libgdcm-tools dicom3tools python3-pydicom openjph-tools",
};
/** Linux. */
export const LINUX: Precondition = { name: "linux", ok: Deno.build.os === "linux", fix: "needs Linux" };

const required = new Set((Deno.env.get("APPAUNET_REQUIRE") ?? "").split(",").map((s) => s.trim()).filter(Boolean));

/**
 * Registers a test with preconditions: run when all hold; otherwise skipped (named with what is missing), or failed
 * when `APPAUNET_REQUIRE` names a missing one.
 *
 * @param name the test's name
 * @param pre its preconditions
 * @param fn the test
 */
export function gatedTest(name: string, pre: Precondition[], fn: () => Promise<void> | void): void {
  const missing = pre.filter((p) => !p.ok);
  const demanded = missing.filter((p) => required.has(p.name));
  if (demanded.length) {
    Deno.test(`${name} (REQUIRED but missing: ${demanded.map((p) => p.name).join(", ")})`, () => {
      throw new Error(
        `APPAUNET_REQUIRE names ${demanded.map((p) => `${p.name} (${p.fix})`).join(", ")}; this machine lacks it`,
      );
    });
    return;
  }
  Deno.test({
    name: missing.length ? `${name} (SKIPPED: ${missing.map((p) => p.fix).join("; ")})` : name,
    ignore: missing.length > 0,
    fn,
  });
}

/**
 * Registers a test that needs a WebGPU adapter (see {@linkcode gatedTest}).
 *
 * @param name the test's name
 * @param fn the test
 */
export function webgpuTest(name: string, fn: () => Promise<void>): void {
  gatedTest(name, [WEBGPU], fn);
}
