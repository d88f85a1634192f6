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
 * Flushes a file written in pieces to disk (before a rename publishes it).
 *
 * @param file the file
 */
export async function syncFile(file: string): Promise<void> {
  const f = await Deno.open(file, { read: true, write: true });
  try {
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

/**
 * Replaces a folder's content as one step: `fill` writes the new content into a temporary folder beside `dir`; only
 * when it has finished is the old folder moved to `<dir>.old`, the new one renamed to `dir`, and the old one removed.
 * A process killed at any point leaves `dir` whole (old or new), or — between the two renames — no `dir` but a whole
 * `<dir>.old`, which readers that know the convention (`resolveCheckpoint`) read, and which the next call puts back
 * before it starts.
 *
 * @example
 * ```ts
 * import { replaceFolderAtomically } from "./fs.ts";
 * import assert from "node:assert/strict";
 * const dir = `${await Deno.makeTempDir()}/model`;
 * await replaceFolderAtomically(dir, (tmp) => Deno.writeTextFile(`${tmp}/v`, "1"));
 * await assert.rejects(replaceFolderAtomically(dir, () => Promise.reject(new Error("disk full"))), /disk full/);
 * assert.equal(await Deno.readTextFile(`${dir}/v`), "1"); // a failed replacement leaves the old content
 * await replaceFolderAtomically(dir, (tmp) => Deno.writeTextFile(`${tmp}/v`, "2"));
 * assert.equal(await Deno.readTextFile(`${dir}/v`), "2");
 * ```
 * @param dir the folder to replace (created when missing)
 * @param fill writes the new content into the temporary folder it is given
 */
export async function replaceFolderAtomically(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const root = path.dirname(dir), old = `${dir}.old`;
  await Deno.mkdir(root, { recursive: true });
  // A kill between the two renames of an earlier call: the old folder is the current one.
  if (!await exists(dir) && await exists(old)) await Deno.rename(old, dir);
  const tmp = await Deno.makeTempDir({ dir: root, prefix: `.${path.basename(dir)}.tmp-` });
  try {
    // makeTempDir creates 0700; the folder it becomes should read like any other (e.g. for a server's user).
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o755);
    await fill(tmp);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  await Deno.remove(old, { recursive: true }).catch(() => {});
  if (await exists(dir)) await Deno.rename(dir, old);
  await Deno.rename(tmp, dir);
  await Deno.remove(old, { recursive: true }).catch(() => {});
}

/**
 * An operating-system error as a sentence for the user: the path, the cause, and what to do.
 *
 * @example
 * ```ts
 * import { describeOsError } from "./fs.ts";
 * import assert from "node:assert/strict";
 * const e = new Deno.errors.PermissionDenied("Permission denied (os error 13)");
 * assert.match(describeOsError(e, "--out pred/", "write the predictions").message, /--out pred\/: cannot write the predictions \(permission denied\); check the folder's permissions/);
 * ```
 * @param e the error
 * @param where what it concerns, e.g. `--out pred/`
 * @param doing what was being done, e.g. `write the predictions`
 * @returns an Error with the message (the original error is its `cause`); other errors are returned unchanged
 */
export function describeOsError(e: unknown, where: string, doing: string): Error {
  const msg = (e as Error)?.message ?? String(e);
  const hints: [RegExp | (new (...a: never[]) => Error), string, string][] = [
    [/No space left|os error 28|ENOSPC/i, "the disk is full", "free some space or choose another place"],
    [Deno.errors.PermissionDenied, "permission denied", "check the folder's permissions, or choose another place"],
    [/Read-only file system|os error 30|EROFS/i, "the file system is read-only", "choose a writable place"],
    [Deno.errors.NotADirectory, "a part of the path is a file", "choose a folder path"],
    [Deno.errors.NotFound, "a part of the path does not exist", "check the path"],
    [/Disk quota|os error 122|EDQUOT/i, "the disk quota is exhausted", "free some space or choose another place"],
  ];
  for (const [test, cause, fix] of hints) {
    const hit = test instanceof RegExp ? test.test(msg) : e instanceof test;
    if (hit) return new Error(`${where}: cannot ${doing} (${cause}); ${fix}`, { cause: e });
  }
  return e instanceof Error ? e : new Error(msg);
}

/**
 * Replaces a file atomically: writes `<file>.tmp`, fsyncs it, renames it over `file`. A kill at any point leaves the
 * old file or the new one, whole; on an error the temporary file is removed and the error says the path, the cause
 * and what to do ({@linkcode describeOsError}). The one write-to-temporary-then-rename in appaunet.
 *
 * @example
 * ```ts
 * import { writeFileAtomically } from "./fs.ts";
 * import assert from "node:assert/strict";
 * const f = `${await Deno.makeTempDir()}/results.json`;
 * await writeFileAtomically(f, "{}\n", "results");
 * assert.equal(await Deno.readTextFile(f), "{}\n");
 * await assert.rejects(writeFileAtomically("/nonexistent/x.json", "{}", "--out /nonexistent"), /--out \/nonexistent: cannot write \/nonexistent\/x.json/);
 * ```
 * @param file the file to replace (its folder must exist)
 * @param content bytes or text (UTF-8)
 * @param where what the path is to the user, for errors (e.g. `--out pred/`)
 */
export async function writeFileAtomically(file: string, content: Uint8Array | string, where: string): Promise<void> {
  const tmp = `${file}.tmp`;
  try {
    await writeFileSynced(tmp, typeof content === "string" ? new TextEncoder().encode(content) : content);
    await Deno.rename(tmp, file);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw describeOsError(e, where, `write ${file}`);
  }
}
