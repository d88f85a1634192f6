/**
 * The `appaunet` command line: a thin shell over `mod.ts`.
 *
 * ```sh
 * deno run -A cli.ts --help
 * deno install -g -A -n appaunet jsr:@appaunet/appaunet/cli   # then: appaunet demo
 * ```
 *
 * @example From code
 * ```ts
 * import { main } from "@appaunet/appaunet/cli";
 * import assert from "node:assert/strict";
 * assert.equal(await main(["help"]), 0);
 * ```
 *
 * @module
 */
import { version as tfjsVersions } from "@tensorflow/tfjs";
import { APPAUNET_VERSION } from "./mod.ts";
import type { Command } from "./lib/cli/command.ts";
import { UsageError } from "./lib/cli/shell.ts";
import { USAGE } from "./lib/cli/usage.ts";
import { demoCommand, trainCommand } from "./lib/cli/commands/train.ts";
import { evalCommand } from "./lib/cli/commands/eval.ts";
import { predictCommand } from "./lib/cli/commands/predict.ts";
import { prepareCommand } from "./lib/cli/commands/prepare.ts";
import { experimentsCommand } from "./lib/cli/commands/experiments.ts";
import { resultsCommand } from "./lib/cli/commands/results.ts";
import { exportCommand } from "./lib/cli/commands/export.ts";
import { mergeCommand } from "./lib/cli/commands/merge.ts";
import { serveCommand } from "./lib/cli/commands/serve.ts";
import { infoCommand } from "./lib/cli/commands/info.ts";

export { TRAIN_FLAGS, trainOptionsFromFlags } from "./lib/cli/train_flags.ts";
export type { MappedTrainFlags, TrainFlag } from "./lib/cli/train_flags.ts";
export type { DiscriminatorOptions, SegmentorOptions, SslMethod, TrainMode, TrainOptions } from "./mod.ts";

/** Every command, each declared the same way (lib/cli/command.ts) in its own file under lib/cli/commands/. */
const COMMANDS: readonly Command[] = [
  infoCommand,
  demoCommand,
  trainCommand,
  evalCommand,
  predictCommand,
  prepareCommand,
  experimentsCommand,
  resultsCommand,
  exportCommand,
  mergeCommand,
  serveCommand,
];

/**
 * Runs the CLI with the given arguments.
 *
 * @example
 * ```ts
 * import { main } from "@appaunet/appaunet/cli";
 * import assert from "node:assert/strict";
 * assert.equal(await main(["--version"]), 0); // prints the version
 * assert.equal(await main(["no-such-command"]), 2); // usage error: prints the usage
 * ```
 * @param args command-line arguments
 * @returns the exit code
 */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  try {
    const command = COMMANDS.find((c) => c.name === cmd);
    if (command) await command.run(rest);
    else if (cmd === "--version" || cmd === "-V" || cmd === "version") {
      console.log(`appaunet ${APPAUNET_VERSION} (deno ${Deno.version.deno}, tfjs ${tfjsVersions.tfjs})`);
    } else if (cmd === undefined || cmd === "help" || cmd === "--help" || cmd === "-h") console.log(USAGE.main);
    else throw new UsageError(`unknown command "${cmd}"\n\n${USAGE.main}`);
    return 0;
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
