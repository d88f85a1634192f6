/**
 * File helpers used inside appaunet (not part of the public module).
 *
 * @module
 */

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

/** Whether a path exists (file, folder or link). */
export async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}
