/**
 * Run folders are owned: `train` refuses an `--out` that holds another run (unless asked to overwrite it) or other
 * files, and a lock file keeps a second process out of a run folder while one trains in it.
 *
 * @module
 */
import * as path from "node:path";

/** The entries a run writes into its folder (what `overwrite` removes). */
export const RUN_ENTRIES = [
  "config.json",
  "metrics.jsonl",
  "checkpoints",
  "report.html",
  "overlays",
  "trained.json",
] as const;

/** The lock file's name inside a run folder. */
export const LOCK_FILE = ".appaunet.lock";

/** A held run-folder lock. */
export interface RunFolderLock {
  /** The run folder. */
  dir: string;
  /** Whether this call created the folder (it is removed again when the run fails before writing anything). */
  created: boolean;
  /**
   * The folder holds a run that stopped before its first checkpoint (nothing to resume or lose): the new run replaces
   * its files, as with `overwrite`.
   */
  unsaved: boolean;
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

async function entries(dir: string): Promise<string[] | undefined> {
  try {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    return names;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    if (e instanceof Deno.errors.NotADirectory) {
      throw new Error(`out (--out ${dir}): is a file, not a folder; choose a folder`);
    }
    throw new Error(`out (--out ${dir}): cannot read the folder (${(e as Error).message}); check its permissions`);
  }
}

function processAlive(pid: number): boolean | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks that `dir` may receive a run and takes its lock:
 * - a new run (`resume` false) needs a missing or empty folder; a folder that holds a run is refused unless
 *   `overwrite` (the old run's files are removed later, by {@linkcode clearRun}, once the new run's options and data
 *   are validated); a non-empty folder that holds no run is always refused;
 * - a resumed run needs the folder to hold a run;
 * - the lock file is created atomically (`createNew`); a lock left by a dead process on this host is replaced.
 *
 * @example
 * ```ts
 * import { claimRunFolder } from "./run_folder.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const lock = await claimRunFolder(dir, { resume: false });
 * await assert.rejects(claimRunFolder(dir, { resume: false }), /another appaunet process/);
 * await lock.release();
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @param dir the run folder
 * @param opts `resume`: continue the run there; `overwrite`: a new run may replace the run there
 * @returns the held lock
 * @throws {Error} naming `--out` (or `--resume`), what is there and what to do
 */
export async function claimRunFolder(
  dir: string,
  opts: { resume: boolean; overwrite?: boolean },
): Promise<RunFolderLock> {
  // Long: the lock and every state a run folder can be in, each with its message.
  const flag = opts.resume ? "--resume" : "--out";
  const names = (await entries(dir))?.filter((n) => n !== LOCK_FILE);
  const isRun = names?.some((n) => n === "config.json" || n === "checkpoints") ?? false;
  if (opts.resume && !isRun) {
    throw new Error(`${flag} ${dir}: holds no run (no config.json or checkpoints/); start a new run with --out`);
  }
  // A run that stopped before its first checkpoint holds nothing to continue or to lose.
  const saved = ["last", "last.old"].some((c) => {
    try {
      return Deno.statSync(path.join(dir, "checkpoints", c, "COMPLETE")).isFile;
    } catch {
      return false;
    }
  });
  if (opts.resume && !saved) {
    throw new Error(
      `${flag} ${dir}: the run stopped before its first checkpoint, so there is nothing to resume; start it again ` +
        `with --out ${dir} (the folder is reused)`,
    );
  }
  const unsaved = !opts.resume && isRun && !saved;
  if (!opts.resume && names?.length) {
    if (!isRun) {
      throw new Error(
        `${flag} ${dir}: the folder is not empty and holds no run (${names.slice(0, 3).join(", ")}${
          names.length > 3 ? ", …" : ""
        }); choose a new or empty folder`,
      );
    }
    if (!opts.overwrite && !unsaved) {
      throw new Error(
        `${flag} ${dir}: holds another run; continue it with --resume ${dir}, choose a new --out, ` +
          "or pass --overwrite to replace it",
      );
    }
  }
  const created = names === undefined;
  await Deno.mkdir(dir, { recursive: true });
  const lockPath = path.join(dir, LOCK_FILE);
  const me = { pid: Deno.pid, hostname: Deno.hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0;; attempt++) {
    try {
      const f = await Deno.open(lockPath, { write: true, createNew: true });
      try {
        await f.write(new TextEncoder().encode(JSON.stringify(me) + "\n"));
      } finally {
        f.close();
      }
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists) || attempt > 0) throw e;
      let holder: { pid?: number; hostname?: string; startedAt?: string } = {};
      try {
        holder = JSON.parse(await Deno.readTextFile(lockPath));
      } catch { /* being written, or damaged: treated as held */ }
      const sameHost = holder.hostname === me.hostname;
      const alive = typeof holder.pid === "number" && sameHost ? processAlive(holder.pid) : undefined;
      if (alive === false) {
        console.error(`warning: ${lockPath}: removing the stale lock of process ${holder.pid}, which has ended`);
        await Deno.remove(lockPath).catch(() => {});
        continue;
      }
      throw new Error(
        `${flag} ${dir}: another appaunet process (pid ${holder.pid ?? "?"} on ${holder.hostname ?? "?"}, since ${
          holder.startedAt ?? "?"
        }) is using this run folder; wait for it to end or stop it` +
          (alive === undefined ? ` (if it has ended, remove ${lockPath})` : ""),
      );
    }
  }
  let released = false;
  return {
    dir,
    created,
    unsaved,
    release: async () => {
      if (released) return;
      released = true;
      await Deno.remove(lockPath).catch(() => {});
    },
  };
}

/**
 * Removes an earlier run's files from its folder (the entries of {@linkcode RUN_ENTRIES}; other files stay).
 *
 * @param dir the run folder
 */
export async function clearRun(dir: string): Promise<void> {
  for (const n of RUN_ENTRIES) await Deno.remove(path.join(dir, n), { recursive: true }).catch(() => {});
}
