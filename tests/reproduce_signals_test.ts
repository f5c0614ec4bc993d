/**
 * `deno task reproduce --jobs 2` under faults: SIGINT and SIGTERM to the parent are forwarded to
 * the workers, a SIGKILL of the parent makes the workers exit on their own, no process is left
 * behind (checked in the process table), no tables are written from a partial run, and a re-run
 * gives the same tables as an uninterrupted run. The tiny profile of _reproduce_fixtures.ts
 * (about 25 s) stands in for the smoke profile (budget 3 min), too slow for the test suite.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "../lib/data/paths.ts";
import {
  removeRuns,
  reproduceCommand,
  TINY_UNITS as UNITS,
  writeTinyProfile,
} from "./_reproduce_fixtures.ts";

async function start(profilePath: string, run: string): Promise<{
  child: Deno.ChildProcess;
  output: Promise<string>;
  started: Promise<void>;
}> {
  const child = (await reproduceCommand(profilePath, run, ["--jobs", "2", "--no-figures"]))
    .spawn();
  let text = "";
  let onStart: () => void = () => {};
  const started = new Promise<void>((r) => (onStart = r));
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      // both workers are inside a unit
      if ((text.match(/: running/g) ?? []).length >= 2) onStart();
    }
  };
  const output = Promise.all([read(child.stdout), read(child.stderr)]).then(() => {
    onStart();
    return text;
  });
  return { child, output, started };
}

/** The processes (pid and arguments) whose command line names the run. */
function processesOf(run: string): string[] {
  const out = new Deno.Command("ps", { args: ["-eo", "pid,ppid,args"], stdout: "piped" })
    .outputSync();
  return new TextDecoder().decode(out.stdout).split("\n")
    .filter((l) => l.includes(`--run ${run} `) || l.endsWith(`--run ${run}`));
}

/** Fail when a process of the run is still there `graceMs` after the parent's exit. */
async function noProcessLeft(run: string, what: string, graceMs: number): Promise<void> {
  let left: string[] = [];
  for (let i = 0; i <= graceMs / 250; i++) {
    left = processesOf(run);
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  // clean up before failing
  for (const l of left) {
    try {
      Deno.kill(Number(l.trim().split(/\s+/)[0]), "SIGKILL");
    } catch {
      // gone
    }
  }
  assert.fail(
    `${what}: processes left behind ${graceMs} ms after the parent's exit:\n${left.join("\n")}`,
  );
}

/** Interrupt a run with `signal` once both workers are inside a unit; returns the exit code. */
async function interrupt(
  profilePath: string,
  run: string,
  signal: Deno.Signal,
): Promise<{ code: number; output: string }> {
  const r = await start(profilePath, run);
  await r.started;
  // soon after both workers are inside a unit: on an idle machine a tiny unit takes ~1-2 s, and
  // the last interruption has few units left, so a longer wait could see the run complete first
  await new Promise((res) => setTimeout(res, 300));
  r.child.kill(signal);
  const status = await r.child.status;
  const output = await r.output;
  // forwarded signals: the parent waits for its workers; SIGKILL: they notice within seconds
  await noProcessLeft(run, signal, signal === "SIGKILL" ? 10_000 : 1000);
  return { code: status.code, output };
}

function done(run: string): string[] {
  return UNITS.filter((u) => {
    try {
      Deno.statSync(join(PROJECT_ROOT, "results", run, "units", u, "done.json"));
      return true;
    } catch {
      return false;
    }
  });
}

/** Every table file, with the lines that differ between runs (commit, times, run name) removed. */
function tables(run: string): Record<string, string> {
  const dir = join(PROJECT_ROOT, "results", run, "tables");
  const out: Record<string, string> = {};
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    out[e.name] = Deno.readTextFileSync(join(dir, e.name))
      .replaceAll(run, "RUN")
      .replace(/"(gitCommit|generatedAt)":\s*"[^"]*"/g, "")
      .replace(/"wallTimeSeconds":\s*[-+0-9.eE]+/g, "")
      .split("\n")
      .filter((l) => !/git commit|wall time|generated/i.test(l))
      .join("\n");
  }
  return out;
}

Deno.test("reproduce: signals leave no worker behind, no partial tables, and a re-run equals an uninterrupted run", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tamflux-sig-" });
  const profilePath = await writeTinyProfile(tmp);
  const stamp = `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const ref = `_test_sigref_${stamp}`, run = `_test_sig_${stamp}`;
  try {
    const whole = await start(profilePath, ref);
    const [status, log] = [await whole.child.status, await whole.output];
    assert.ok(status.success, `uninterrupted run failed:\n${log.slice(-3000)}`);

    for (const signal of ["SIGINT", "SIGKILL", "SIGTERM"] as const) {
      const before = done(run).length;
      const r = await interrupt(profilePath, run, signal);
      assert.notEqual(r.code, 0, `${signal}: exit code 0\n${r.output.slice(-2000)}`);
      assert.ok(done(run).length < UNITS.length, `${signal} came after the run was complete`);
      assert.ok(done(run).length >= before, "finished units are kept");
      if (signal !== "SIGKILL") {
        assert.match(r.output, new RegExp(`interrupted by ${signal}`));
        assert.doesNotMatch(r.output, /wrote \d+ table files/);
      }
      assert.throws(
        () => Deno.statSync(join(PROJECT_ROOT, "results", run, "tables")),
        `${signal}: tables written from a partial run`,
      );
    }
    const resumed = await start(profilePath, run);
    const [st, out] = [await resumed.child.status, await resumed.output];
    assert.ok(st.success, `the re-run failed:\n${out.slice(-3000)}`);
    assert.deepEqual(done(run), UNITS);
    await noProcessLeft(run, "finished run", 1000);
    const a = tables(ref), b = tables(run);
    assert.ok(Object.keys(a).length > 10, Object.keys(a).join(", "));
    assert.deepEqual(Object.keys(b), Object.keys(a));
    for (const name of Object.keys(a)) assert.equal(b[name], a[name], `${name} differs`);
  } finally {
    await removeRuns([ref, run]);
    await Deno.remove(tmp, { recursive: true });
  }
});
