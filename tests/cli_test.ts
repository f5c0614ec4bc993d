import assert from "node:assert/strict";
import { z } from "zod";
import {
  cli,
  defineTask,
  errorLine,
  helpText,
  opt,
  parseTaskArgs,
  PROFILE_OPTIONS,
  readTasks,
  taskCommandArgs,
  taskRunArgs,
  usageLine,
} from "../lib/cli/mod.ts";
import { PROJECT_ROOT } from "../lib/data/paths.ts";

const TASK = defineTask({
  name: "demo",
  description: "does the demo",
  options: {
    profile: opt.string("profile name", { default: "quick", arg: "name" }),
    run: opt.name("run folder"),
    jobs: opt.int("workers", { min: 1, defaultText: "one per core" }),
    qc: opt.number("threshold", { min: 0, max: 1, default: 0.8 }),
    backend: opt.choice(["wasm", "cpu"] as const, "backend", { default: "wasm" }),
    config: opt.string("config file", { arg: "file.json", required: true }),
    tag: opt.list("a tag", { arg: "tag" }),
    pair: opt.custom("LABEL=path", {
      multiple: true,
      type: "LABEL=file",
      default: [] as string[][],
      parse: (t) => {
        if (!t.includes("=")) throw new Error(`expected LABEL=path, got "${t}"`);
        return [t.split("=")];
      },
    }),
    port: opt.schema(z.coerce.number().int().min(1024), "a port", { type: "port", default: 8899 }),
    "dry-run": opt.flag("only list"),
    worker: opt.flag("internal", { hidden: true }),
  },
  examples: ["deno task demo --config c.json --jobs 2"],
});

function values(args: string[]) {
  const r = parseTaskArgs(TASK, args);
  assert.equal(r.kind, "values", JSON.stringify(r));
  return (r as { values: Record<string, unknown> }).values;
}

function usage(args: string[]): string {
  const r = parseTaskArgs(TASK, args);
  assert.equal(r.kind, "usage", JSON.stringify(r));
  return (r as { message: string }).message;
}

Deno.test("cli: defaults, typed values, repeatable options", () => {
  const v = values(["--config", "c.json"]);
  assert.deepEqual(v, {
    profile: "quick",
    run: undefined,
    jobs: undefined,
    qc: 0.8,
    backend: "wasm",
    config: "c.json",
    tag: [],
    pair: [],
    port: 8899,
    "dry-run": false,
    worker: false,
  });
  const w = values([
    "--config=c.json",
    "--jobs",
    "3",
    "--qc",
    "1",
    "--backend",
    "cpu",
    "--tag",
    "a",
    "--tag",
    "b",
    "--pair",
    "x=1",
    "--pair",
    "y=2",
    "--port",
    "9000",
    "--dry-run",
    "--run",
    "smoke_1",
  ]);
  assert.equal(w.jobs, 3);
  assert.equal(w.qc, 1);
  assert.equal(w.backend, "cpu");
  assert.deepEqual(w.tag, ["a", "b"]);
  assert.deepEqual(w.pair, [["x", "1"], ["y", "2"]]);
  assert.equal(w.port, 9000);
  assert.equal(w["dry-run"], true);
  assert.equal(w.run, "smoke_1");
});

Deno.test("cli: bad values and unknown flags give one line naming the flag and the value", () => {
  const c = ["--config", "c.json"];
  assert.equal(usage([...c, "--jobs", "abc"]), '--jobs: expected an integer, got "abc"');
  assert.equal(usage([...c, "--jobs", "0"]), '--jobs: expected an integer >= 1, got "0"');
  assert.equal(usage([...c, "--jobs", "1.5"]), '--jobs: expected an integer, got "1.5"');
  assert.equal(usage([...c, "--qc", "2"]), '--qc: expected a number in [0, 1], got "2"');
  assert.match(
    usage([...c, "--backend", "gpu"]),
    /^--backend: expected one of wasm, cpu, got "gpu"$/,
  );
  assert.match(usage([...c, "--run", "../x"]), /^--run: .*"\.\.\/x"$/);
  assert.match(usage([...c, "--pair", "nope"]), /^--pair: expected LABEL=path, got "nope"$/);
  assert.match(usage([...c, "--port", "80"]), /^--port: .*"80"$/);
  assert.equal(usage([...c, "--nope"]), "unknown option --nope");
  assert.equal(usage([...c, "--jobs"]), "--jobs needs a value");
  assert.equal(usage([...c, "--dry-run=yes"]), "--dry-run takes no value");
  assert.equal(usage([...c, "stray"]), 'unexpected argument "stray"');
  assert.equal(usage([]), "--config is required");
  for (const args of [[...c, "--jobs", "abc"], [...c, "--nope"]]) {
    assert.equal(usage(args).includes("\n"), false);
  }
});

Deno.test("cli: --help and -h give the help; the help lists types, defaults and examples", () => {
  for (const flag of ["--help", "-h"]) {
    const r = parseTaskArgs(TASK, ["--jobs", "abc", flag]);
    assert.equal(r.kind, "help");
  }
  const help = helpText(TASK);
  const lines = help.split("\n");
  assert.equal(lines[0], "deno task demo: does the demo");
  assert.ok(lines.includes(usageLine(TASK)));
  assert.match(help, /--jobs <n> +workers \[int >= 1; default: one per core\]/);
  assert.match(help, /--qc <x> +threshold \[number in \[0, 1\]; default: 0\.8\]/);
  assert.match(help, /--backend <wasm\|cpu> +backend \[wasm\|cpu; default: wasm\]/);
  assert.match(help, /--config <file\.json> +config file \[string; required\]/);
  assert.match(help, /--dry-run +only list \[flag\]/);
  assert.match(help, /-h, --help +this help/);
  assert.match(help, /Examples:\n {2}deno task demo --config c\.json --jobs 2/);
  assert.equal(help.includes("--worker"), false, "hidden options stay out of the help");
  assert.equal(
    usageLine(TASK),
    "Usage: deno task demo [--profile <name>] [--run <name>] [--jobs <n>] [--qc <x>] " +
      "[--backend <wasm|cpu>] --config <file.json> [--tag <tag>]... [--pair <value>]... " +
      "[--port <value>] [--dry-run]",
  );
});

Deno.test("cli: cli() without exit throws instead of exiting, and returns typed values", () => {
  const v = cli(TASK, { args: ["--config", "x.json", "--jobs", "2"], exit: false });
  const jobs: number | undefined = v.jobs;
  const backend: "wasm" | "cpu" = v.backend;
  assert.equal(jobs, 2);
  assert.equal(backend, "wasm");
  assert.throws(() => cli(TASK, { args: ["--nope"], exit: false }), /unknown option --nope/);
});

Deno.test("cli: declarations are checked", () => {
  const base = { name: "x", description: "d", options: {}, examples: ["deno task x"] };
  assert.throws(() => defineTask({ ...base, examples: [] }), /example/);
  assert.throws(() => defineTask({ ...base, description: "a\nb" }), /one-line/);
  assert.throws(
    () => defineTask({ ...base, options: { help: opt.flag("no") } }),
    /--help is built in/,
  );
});

Deno.test("cli: errorLine is one line naming the file; the stack only with TAMFLUX_DEBUG=1", () => {
  let error: unknown;
  try {
    Deno.readTextFileSync("/nonexistent/tamflux_cli_test.json");
  } catch (e) {
    error = e;
  }
  const previous = Deno.env.get("TAMFLUX_DEBUG");
  try {
    Deno.env.delete("TAMFLUX_DEBUG");
    const line = errorLine("demo", error);
    assert.match(line, /^demo: .*\/nonexistent\/tamflux_cli_test\.json/);
    assert.equal(line.includes("\n"), false);
    assert.equal(errorLine("demo", new Error("first\nsecond")), "demo: first");
    Deno.env.set("TAMFLUX_DEBUG", "1");
    assert.match(errorLine("demo", error), /\n {4}at /);
  } finally {
    if (previous === undefined) Deno.env.delete("TAMFLUX_DEBUG");
    else Deno.env.set("TAMFLUX_DEBUG", previous);
  }
});

Deno.test("cli: taskRunArgs reads a task's deno run flags and script from deno.json", async () => {
  const fetch = await taskRunArgs("data:fetch", { root: PROJECT_ROOT });
  assert.ok(fetch.script.endsWith("tasks/data_fetch.ts"));
  assert.ok(fetch.flags.includes("--allow-net"));
  const setup = await taskRunArgs("setup", { root: PROJECT_ROOT });
  assert.ok(setup.script.endsWith("tasks/setup.ts"), "the deno run after `deno install &&`");
  await assert.rejects(taskRunArgs("no-such-task", { root: PROJECT_ROOT }), /no task/);
});

/** The permission policy of issue 16, as deno.json writes it. */
Deno.test("cli: deno.json grants network, subprocesses and writes only where a task needs them", async () => {
  const tasks = await readTasks(PROJECT_ROOT);
  const flagsOf = async (name: string) => (await taskRunArgs(name, { root: PROJECT_ROOT })).flags;
  const scripts = Object.entries(tasks).filter(([, t]) =>
    /deno run .*tasks\/\S+\.ts/.test(t.command)
  );
  assert.ok(scripts.length >= 12);
  const net: Record<string, string> = {};
  const run: Record<string, string> = {};
  for (const [name] of scripts) {
    const flags = await flagsOf(name);
    assert.ok(flags.includes("--no-prompt"), `${name}: --no-prompt`);
    assert.ok(!flags.includes("--allow-all") && !flags.includes("-A"), name);
    assert.ok(!flags.includes("--allow-run"), `${name}: --allow-run must list its programs`);
    for (const f of flags) {
      if (f.startsWith("--allow-net")) net[name] = f;
      if (f.startsWith("--allow-run")) run[name] = f;
    }
  }
  assert.deepEqual(net, { "data:fetch": "--allow-net", screenshot: "--allow-net=127.0.0.1" });
  assert.deepEqual(Object.keys(run).sort(), [
    "adapt:curve",
    "bench:step",
    "cluster:slurm",
    "cv",
    "predict",
    "reproduce",
    "screenshot",
    "setup",
    "tables",
    "train",
    "trees",
  ]);
  assert.equal(run.reproduce, "--allow-run=deno,git,ps");
  assert.equal(run.predict, "--allow-run=ps"); // whether an output lock's holder is alive
  assert.equal(run["cluster:slurm"], "--allow-run=sbatch,squeue,scancel");
  assert.equal(run.cv, "--allow-run=deno,git"); // reproduce as a subprocess, git for provenance
  assert.equal(run["adapt:curve"], "--allow-run=git"); // provenance of its table
  // members as worker processes (ps: a worker watches its parent off Linux), git for provenance
  assert.equal(run.train, "--allow-run=deno,git,ps");
  for (const name of ["setup", "bench:step"]) {
    assert.ok(!(await flagsOf(name)).some((f) => f.startsWith("--allow-write")), name);
  }
  for (
    const name of [
      "tables",
      "reproduce",
      "cv",
      "adapt:curve",
      "trees",
      "data:summary",
      "bench:load",
      "cluster:slurm",
    ]
  ) {
    const write = (await flagsOf(name)).find((f) => f.startsWith("--allow-write"));
    assert.match(write ?? "", /^--allow-write=/, `${name}: scoped writes`);
  }
});

Deno.test("cli: the profile tasks declare --profile and --run once (PROFILE_OPTIONS)", async () => {
  const task = defineTask({
    name: "x",
    description: "runs a profile",
    examples: ["deno task x"],
    options: { ...PROFILE_OPTIONS },
  });
  assert.deepEqual(cli(task, { args: [], exit: false }), { profile: "quick", run: undefined });
  assert.deepEqual(cli(task, { args: ["--profile", "smoke", "--run", "s1"], exit: false }), {
    profile: "smoke",
    run: "s1",
  });
  for (const file of ["reproduce", "cluster_slurm", "cluster_k8s"]) {
    const source = await Deno.readTextFile(`${PROJECT_ROOT}/tasks/${file}.ts`);
    assert.match(source, /\.\.\.PROFILE_OPTIONS/, `tasks/${file}.ts`);
    assert.doesNotMatch(source, /profile: opt\./, `tasks/${file}.ts declares --profile again`);
  }
});

Deno.test("cli: taskCommandArgs runs a task's script with its deno.json flags, then the arguments", async () => {
  const { flags, script } = await taskRunArgs("reproduce", { root: PROJECT_ROOT });
  const args = await taskCommandArgs("reproduce", ["--profile", "smoke"], { root: PROJECT_ROOT });
  assert.deepEqual(args, ["run", ...flags, script, "--profile", "smoke"]);
});
