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

/** Whether a path exists (file, folder or link). */
export async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}
