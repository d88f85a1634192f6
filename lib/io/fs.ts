/**
 * File helpers used inside appaunet (not part of the public module).
 *
 * @module
 */
import * as path from "node:path";

/** Writes a file and fsyncs it, so a later rename publishes complete bytes. */
export async function writeFileSynced(file: string, bytes: Uint8Array): Promise<void> {
  const f = await Deno.open(file, { write: true, create: true, truncate: true });
  try {
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
}

/**
 * appaunet's cache folder (generated demo phantoms, the downloaded pretrained model): `$APPAUNET_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/appaunet`, else `~/.cache/appaunet`.
 */
export function cacheRoot(): string {
  const own = Deno.env.get("APPAUNET_CACHE_DIR");
  if (own) return own;
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? ".";
  return `${Deno.env.get("XDG_CACHE_HOME") ?? `${home}/.cache`}/appaunet`;
}

/**
 * Creates the folder `dir` whole or not at all: `fill` writes into a temporary folder next to it, which is then renamed
 * to `dir`, so an interrupted fill leaves nothing half-made. When another process renamed its copy first (`done`
 * holds afterwards), that copy is kept; otherwise the error is rethrown.
 */
export async function createFolderAtomically(
  dir: string,
  fill: (tmp: string) => Promise<void>,
  done: () => Promise<boolean>,
): Promise<void> {
  const root = path.dirname(dir);
  await Deno.mkdir(root, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: root, prefix: ".tmp-" });
  try {
    await fill(tmp);
    await Deno.rename(tmp, dir);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (!await done()) throw e;
  }
}

/** Whether a path exists (file, folder or link). */
export async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}
