/**
 * Every task of deno.json that runs a script of tasks/, run through `deno task` (so with the
 * permissions deno.json grants it): `--help` exits 0 and prints the usage, an unknown flag exits
 * 2 with one line naming it plus the usage, bad values exit 2, an error in the work exits 1 with
 * one line; never a stack trace. The README's Tasks table matches each task's description.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readTasks } from "../lib/cli/mod.ts";
import { PROJECT_ROOT } from "../lib/data/paths.ts";

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function task(name: string, args: string[], env: Record<string, string> = {}): Promise<Ran> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", name, ...args],
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1", TAMFLUX_DEBUG: "0", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** At most `limit` at once: a 2-core machine shared with other work. */
async function limited<T, R>(items: T[], limit: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function assertNoStack(name: string, ran: Ran) {
  const all = ran.stdout + ran.stderr;
  assert.ok(!/^ {4}at /m.test(all), `${name}: stack trace\n${all}`);
  assert.ok(!all.includes("Uncaught"), `${name}: Uncaught\n${all}`);
}

/** stderr without Deno's own notes (install warnings, permission resolution info). */
function ourLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.trim() !== "" && !/^(Info |Warning |[╭│╰])/.test(l));
}

const tasks = await readTasks(PROJECT_ROOT);
const scripted = Object.entries(tasks)
  .filter(([, t]) => /deno run .*tasks\/\S+\.ts/.test(t.command))
  .map(([name, t]) => ({ name, description: t.description }));

Deno.test("tasks: every task of tasks/ has --help (exit 0) and refuses an unknown flag (exit 2)", async () => {
  assert.ok(scripted.length >= 12, `tasks found: ${scripted.map((t) => t.name).join(", ")}`);
  const results = await limited(scripted, 3, async (t) => ({
    ...t,
    help: await task(t.name, ["--help"]),
    unknown: await task(t.name, ["--no-such-flag"]),
  }));
  for (const { name, description, help, unknown } of results) {
    assert.equal(help.code, 0, `${name} --help: exit ${help.code}\n${help.stderr}`);
    const first = help.stdout.split("\n")[0];
    assert.equal(first, `deno task ${name}: ${description}`, `${name}: description`);
    assert.match(help.stdout, new RegExp(`^Usage: deno task ${name}`, "m"));
    assert.match(help.stdout, /^Examples:\n {2}deno task /m, `${name}: an example`);
    const options = help.stdout.split("\nOptions:\n")[1].split("\n\n")[0].split("\n");
    for (const line of options) assert.ok(line.length <= 100, `${name}: wrap "${line}"`);
    assertNoStack(`${name} --help`, help);

    assert.equal(
      unknown.code,
      2,
      `${name} --no-such-flag: exit ${unknown.code}\n${unknown.stderr}`,
    );
    const lines = ourLines(unknown.stderr);
    assert.equal(lines[0], `${name}: unknown option --no-such-flag`);
    assert.match(lines[1], new RegExp(`^Usage: deno task ${name}`));
    assert.equal(unknown.stdout, "", `${name}: nothing on stdout`);
    assertNoStack(`${name} --no-such-flag`, unknown);
  }
});

Deno.test("tasks: bad values exit 2 with one line naming the flag and the value", async () => {
  const cases: [string, string[], RegExp][] = [
    ["reproduce", ["--jobs", "abc"], /^reproduce: --jobs: expected an integer, got "abc"$/],
    ["reproduce", ["--shard", "5/2"], /^reproduce: --shard: 5\/2: need 0 <= i < n/],
    ["reproduce", ["--jobs", "2", "--shard", "0/2"], /^reproduce: --jobs and --shard exclude/],
    ["reproduce", ["--no-estimate"], /^reproduce: --no-estimate goes with --dry-run/],
    ["trees", ["--with", "X=x.parquet"], /^trees: --with goes with --xbase/],
    ["tables", ["--run", "../x"], /^tables: --run: .*"\.\.\/x"$/],
    ["train", [], /^train: --config is required$/],
    ["data:summary", ["--qc", "2"], /^data:summary: --qc: expected a number in \[0, 1\]/],
  ];
  const results = await limited(cases, 3, ([name, args]) => task(name, args));
  cases.forEach(([name, args, pattern], i) => {
    const ran = results[i];
    assert.equal(ran.code, 2, `${name} ${args.join(" ")}: exit ${ran.code}\n${ran.stderr}`);
    const lines = ourLines(ran.stderr);
    assert.match(lines[0], pattern);
    assert.match(lines[1], /^Usage: /);
    assertNoStack(name, ran);
  });
});

Deno.test("tasks: an error in the work is one line naming the file (exit 1); the stack only with TAMFLUX_DEBUG=1", async () => {
  const missing = join(PROJECT_ROOT, "configs", "no_such_config_cli_test.json");
  const [plain, debug] = await limited(
    [{}, { TAMFLUX_DEBUG: "1" }] as Record<string, string>[],
    2,
    (env) => task("trees", ["--config", missing], env),
  );
  assert.equal(plain.code, 1, plain.stderr);
  const lines = ourLines(plain.stderr);
  assert.equal(lines.length, 1, plain.stderr);
  assert.match(lines[0], /^trees: .*no_such_config_cli_test\.json/);
  assertNoStack("trees --config missing", plain);
  assert.equal(debug.code, 1, debug.stderr);
  assert.match(debug.stderr, /^ {4}at /m);
});

Deno.test("tasks: the README's Tasks table has each task's description", async () => {
  const readme = await Deno.readTextFile(join(PROJECT_ROOT, "README.md"));
  const rows = new Map<string, string>();
  for (const line of readme.split("\n")) {
    const m = /^\| `deno task ([\w:]+)[^`]*` +\| (.*?) +\|$/.exec(line);
    if (m) rows.set(m[1], m[2]);
  }
  for (const [name, t] of Object.entries(tasks)) {
    assert.ok(t.description, `deno.json: task ${name} has no description`);
    assert.equal(rows.get(name), t.description, `README Tasks table, ${name}`);
  }
});
