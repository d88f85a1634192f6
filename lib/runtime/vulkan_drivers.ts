/**
 * Installed Vulkan drivers on Linux, found the way the Vulkan loader finds them: JSON manifests ("ICD" files) in its
 * standard folders. Used to decide whether Deno's WebGPU can be limited to Vulkan and to read Mesa's version.
 *
 * @module
 */

/** Where the Vulkan loader looks for driver manifests on Linux. */
const ICD_DIRS = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];

/**
 * Paths of the Vulkan driver manifests installed in the loader's standard folders (missing or unreadable folders
 * are skipped, so this returns `[]` off Linux or without read permission).
 *
 * @example
 * ```ts
 * import { vulkanDriverManifests } from "./vulkan_drivers.ts";
 * import assert from "node:assert/strict";
 * assert.equal(Array.isArray(vulkanDriverManifests()), true);
 * ```
 * @returns manifest paths, e.g. `/usr/share/vulkan/icd.d/lvp_icd.x86_64.json`
 */
export function vulkanDriverManifests(): string[] {
  const found: string[] = [];
  for (const dir of ICD_DIRS) {
    try {
      for (const e of Deno.readDirSync(dir)) if (e.name.endsWith(".json")) found.push(`${dir}/${e.name}`);
    } catch {
      // missing or unreadable folder
    }
  }
  return found;
}
