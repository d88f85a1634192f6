/**
 * `info`: see its usage text (lib/cli/usage.ts).
 *
 * @module
 */
import { winogradOutputTile } from "../../kernels/webgpu_winograd.ts";
import { APPAUNET_VERSION, backendInfo, fastKernelsEnabled } from "../../../mod.ts";
import { parse, setup } from "../shell.ts";
import { USAGE } from "../usage.ts";
import type { Command } from "../command.ts";

async function run(argv: string[]) {
  const { values: v } = parse("info", argv, {});
  if (v.help) return console.log(USAGE.info);
  await setup(v);
  const i = backendInfo();
  console.log(`backend      ${i.backend}`);
  const wino = winogradOutputTile();
  console.log(
    `kernels      ${
      fastKernelsEnabled()
        ? `fast (appaunet replacements; 3×3 convs: ${wino ? `Winograd F(${wino}×${wino}, 3×3)` : "direct"}${
          i.kernelTarget ? `; chosen for a ${i.kernelTarget === "gpu" ? "GPU" : "software adapter"}` : ""
        })`
        : "stock tfjs"
    }`,
  );
  if (i.adapter) {
    const a = i.adapter;
    console.log(
      `adapter      ${a.description || "(no description)"} · vendor ${a.vendor || "?"}${
        a.isFallbackAdapter ? " · software" : ""
      }`,
    );
    if (a.mesaVersion) {
      const bits = a.softwareVectorBits ? ` · ${a.softwareVectorBits}-bit vectors (LP_NATIVE_VECTOR_WIDTH)` : "";
      console.log(`mesa         ${a.mesaVersion}${bits}`);
    }
    if (i.submitBatchSize) {
      console.log(
        `submit batch ${i.submitBatchSize} dispatches per queue submission (WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE)`,
      );
    }
    if (a.denoWebgpuBackend) console.log(`wgpu backend ${a.denoWebgpuBackend} (DENO_WEBGPU_BACKEND)`);
    console.log(
      `limits       maxStorageBufferBindingSize ${a.maxStorageBufferBindingSize} · maxComputeWorkgroupStorageSize ${a.maxComputeWorkgroupStorageSize} · maxComputeInvocationsPerWorkgroup ${a.maxComputeInvocationsPerWorkgroup}`,
    );
  }
  console.log(`versions     deno ${i.versions.deno} · tfjs ${i.versions.tfjs} · appaunet ${APPAUNET_VERSION}`);
  for (const w of i.warnings) console.log(`warning      ${w}`);
}

/** The `info` command. */
export const infoCommand: Command = { name: "info", run };
