/**
 * Runs every test of `tests/*_test.ts` alone (`deno test --filter /^name$/ file`), to show that no test depends on
 * another one having run first. It lists the tests by running the suite once (or reads the log of a run given as the
 * argument), then runs each by itself with `APPAUNET_REQUIRE` set as in CI. About 10 minutes on a 2-core machine; not
 * part of `.ci/run`.
 *
 * ```sh
 * deno run -A .ci/tests_alone.ts [test-log.txt]
 * ```
 *
 * @module
 */
const REQUIRE = Deno.env.get("APPAUNET_REQUIRE") ?? "webgpu,real-data,chromium,linux";

async function listTests(log?: string): Promise<[string, string][]> {
  let text: string;
  if (log) text = await Deno.readTextFile(log);
  else {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "tests/"],
      env: { NO_COLOR: "1", APPAUNET_REQUIRE: REQUIRE },
    }).output();
    text = new TextDecoder().decode(o.stdout);
  }
  const tests: [string, string][] = [];
  let file: string | undefined;
  for (const line of text.split("\n")) {
    const run = /^running \d+ tests? from (\S+)/.exec(line);
    if (run) {
      file = /^\.\/tests\/\S+_test\.ts$/.test(run[1]) ? run[1] : undefined;
      continue;
    }
    const t = /^(\S.*) \.\.\. (ok|FAILED|ignored)/.exec(line);
    if (t && file) tests.push([file, t[1]]);
  }
  return tests;
}

if (import.meta.main) {
  const tests = await listTests(Deno.args[0]);
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  let failed = 0;
  for (const [file, name] of tests) {
    const t0 = performance.now();
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "--filter", `/^${escape(name)}$/`, file],
      env: { NO_COLOR: "1", APPAUNET_REQUIRE: REQUIRE },
    }).output();
    const out = new TextDecoder().decode(o.stdout);
    const ok = o.code === 0 && /ok \| 1 passed/.test(out);
    if (!ok) failed++;
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(`${ok ? "ok  " : "FAIL"} ${s} s  ${file}  ${name}${ok ? "" : `\n${out.slice(-1500)}`}`);
  }
  console.log(`${tests.length - failed} of ${tests.length} tests pass alone, ${failed} fail`);
  Deno.exit(failed ? 1 : 0);
}
