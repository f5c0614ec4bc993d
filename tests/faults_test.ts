/**
 * The fault corpus of the command line (issue 27): bad inputs a user gives `deno task predict`,
 * `deno task tables` and the option parser. Every case asserts the exit code, that the message is
 * one line naming the file, folder or flag, that no stack trace or library panic is printed, and
 * that no output, temp or lock file is left beside `--out`. The run folders are tiny untrained
 * fixture runs (tests/_run_fixtures.ts) on the two fixture site-years.
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import pl from "polars";
import { claimFile } from "../lib/data/claims.ts";
import { PROJECT_ROOT, resolveDataDir } from "../lib/data/paths.ts";
import { loadSites } from "../lib/data/sites.ts";
import { writePredictions } from "../lib/eval/predictions.ts";
import { runPlan, type Unit } from "../lib/experiments/plan.ts";
import { buildReport } from "../lib/experiments/report.ts";
import {
  ensembleMembers,
  guardOutputs,
  leftoverTemps,
  outputLockPath,
  outputTempPath,
  writePredictionTable,
} from "../lib/predict/mod.ts";
import { runPaths } from "../lib/train/runs.ts";
import { fixtureDataset, paths } from "./_dataset_fixtures.ts";
import { writeFixtureRun } from "./_run_fixtures.ts";
import { syntheticTable } from "./eval_fixtures.ts";

const tmp = await Deno.makeTempDir({ prefix: "tamflux_faults_" });
const ds = await fixtureDataset({ window: 30, stride: 15, supportK: 3 });
const dsMeteo = await fixtureDataset({ featureSet: "meteo", window: 30, stride: 15, supportK: 3 });

// a mixed ensemble as train leaves runs/production/tamrl: MODIS members, a meteo-only member and
// the member lists ensemble.json / ensemble_meteo.json
async function mixedEnsemble(dir: string): Promise<string> {
  const modis = [
    await writeFixtureRun(join(dir, "seed0"), { name: "tamrl", seed: 0, dataset: ds }),
    await writeFixtureRun(join(dir, "seed1"), { name: "tamrl", seed: 1, dataset: ds }),
  ];
  const meteo = await writeFixtureRun(join(dir, "meteo_seed0"), {
    name: "tamrl",
    seed: 2,
    dataset: dsMeteo,
  });
  await Deno.writeTextFile(join(dir, "ensemble.json"), JSON.stringify({ members: modis }));
  await Deno.writeTextFile(join(dir, "ensemble_meteo.json"), JSON.stringify({ members: [meteo] }));
  return dir;
}
const ensemble = await mixedEnsemble(join(tmp, "runs", "mixed"));

const daily = join(tmp, "daily");
await Deno.mkdir(daily);
for (const f of Deno.readDirSync(paths.fixtures)) {
  if (f.name.startsWith("FLX_")) {
    await Deno.copyFile(join(paths.fixtures, f.name), join(daily, f.name));
  }
}
const monthly = join(tmp, "monthly");
await Deno.mkdir(monthly);
for (const site of ["FR-Pue", "AU-Lox"]) {
  await Deno.copyFile(
    join(paths.fixtures, "metaflux_monthly_FR-Pue_AU-Lox.csv"),
    join(monthly, `${site}_MM.csv`),
  );
}
const sites = resolveDataDir().sitesCsv;

interface Ran {
  code: number;
  stderr: string;
}

/** `deno task predict` (its deno.json permissions) on the fixture ensemble with `args`. */
async function predict(args: string[], options: { run?: string } = {}): Promise<Ran> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "-q",
      "predict",
      "--run",
      options.run ?? ensemble,
      "--backend",
      "cpu",
      "--data",
      daily,
      "--sites",
      sites,
      ...args,
    ],
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1", TAMFLUX_DEBUG: "0", RUST_BACKTRACE: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** stderr without Deno's own notes. */
function ourLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.trim() !== "" && !/^(Info |Warning |[╭│╰])/.test(l));
}

/** Exit 1 (or `code`), the last line is `predict: <pattern>`, no stack, no panic. */
function assertFails(ran: Ran, pattern: RegExp, code = 1) {
  assert.equal(ran.code, code, `exit ${ran.code}\n${ran.stderr}`);
  const lines = ourLines(ran.stderr);
  const errors = lines.filter((l) => !/^predict: (WARNING|removed|\S+\.lock: took over)/.test(l));
  assert.match(errors.at(code === 2 ? 0 : -1) ?? "", pattern, ran.stderr);
  assert.ok(!/^ {4}at |panicked|RUST_BACKTRACE|stack backtrace/m.test(ran.stderr), ran.stderr);
}

/** The files beside an output: nothing but `keep` (no output, temp or lock file). */
function assertClean(dir: string, keep: string[] = []) {
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  assert.deepEqual(names, [...keep].sort(), `left in ${dir}`);
}

/** A fresh output folder under tmp. */
let outCount = 0;
function outDir(): string {
  const dir = join(tmp, "out", `o${outCount++}`);
  Deno.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Run `f` on `items` at most two at once (a 2-core machine). */
async function twoAtATime<T, R>(items: T[], f: (x: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await f(items[i]);
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

Deno.test("faults: bad command lines and inputs of predict exit 1 (usage 2) with one line naming them; nothing left", async () => {
  const file = join(tmp, "a_file");
  await Deno.writeTextFile(file, "x");
  const cases: { name: string; args: (out: string) => string[]; pattern: RegExp; code?: number }[] =
    [
      {
        name: "--monthly naming a folder that does not exist (was: exit 0, meteo-only for all)",
        args: (out) => ["--monthly", join(tmp, "no_such_monthly"), "--out", out],
        pattern: /^predict: --monthly \S+no_such_monthly: no such folder$/,
      },
      {
        name: "--monthly naming a file",
        args: (out) => ["--monthly", file, "--out", out],
        pattern: /^predict: --monthly \S+a_file: a file, not a folder$/,
      },
      {
        name: "--seed -1 (was: 'argument is ambiguous')",
        args: (out) => ["--monthly", monthly, "--seed", "-1", "--out", out],
        pattern: /^predict: --seed: expected an integer >= 0, got "-1"$/,
        code: 2,
      },
      {
        name: "--out naming a value that starts with a dash",
        args: () => ["--monthly", monthly, "--out", "-x.csv"],
        pattern:
          /^predict: --out needs a value, got the option-like "-x\.csv" \(.*--out=-x\.csv\)$/,
        code: 2,
      },
      {
        name: "--out with another extension",
        args: (out) => ["--monthly", monthly, "--out", out.replace(/\.csv$/, ".txt")],
        pattern: /^predict: \S+out\.txt: the output must end in \.csv or \.parquet/,
      },
      {
        name: "--out that is an input",
        args: () => ["--monthly", monthly, "--out", join(monthly, "FR-Pue_MM.csv")],
        pattern: /^predict: --out \S+FR-Pue_MM\.csv lies inside the input folder/,
      },
      {
        name: "--data naming a folder that does not exist",
        args: (out) => ["--data", join(tmp, "no_such_daily"), "--monthly", monthly, "--out", out],
        pattern: /^predict: --data \S+no_such_daily: no such folder$/,
      },
      {
        name: "--sites naming a file that does not exist",
        args: (out) => ["--sites", join(tmp, "no_sites.csv"), "--monthly", monthly, "--out", out],
        pattern: /^predict: .*no_sites\.csv/,
      },
      {
        name: "--run naming a folder without runs",
        args: (out) => ["--run", daily, "--monthly", monthly, "--out", out],
        pattern: /^predict: \S+daily: neither a run folder/,
      },
    ];
  const dirs = cases.map(() => outDir());
  const results = await twoAtATime(cases, (c) => {
    const out = join(dirs[cases.indexOf(c)], "out.csv");
    return predict(c.args(out), { run: c.args(out).includes("--run") ? daily : undefined });
  });
  cases.forEach((c, i) => {
    assertFails(results[i], c.pattern, c.code);
    assertClean(dirs[i]);
  });
});

Deno.test("faults: a member listed in ensemble.json that is missing or incomplete is an error naming it", async () => {
  // model.json removed: the folder still holds config.json (an incomplete run)
  const noModel = await mixedEnsemble(join(tmp, "runs", "no_model"));
  await Deno.remove(runPaths(join(noModel, "seed1")).model);
  await assert.rejects(
    () => ensembleMembers(noModel),
    /no_model\/seed1: an incomplete member run \(it has config\.json but no model\.json\)/,
  );
  // the folder emptied of everything: only ensemble.json tells that it is a member
  const empty = await mixedEnsemble(join(tmp, "runs", "emptied"));
  await Deno.remove(join(empty, "seed1"), { recursive: true });
  await Deno.mkdir(join(empty, "seed1"));
  await assert.rejects(
    () => ensembleMembers(empty),
    /emptied\/seed1: a member listed in \S+emptied\/ensemble\.json has no model\.json/,
  );
  const gone = await mixedEnsemble(join(tmp, "runs", "gone"));
  await Deno.remove(join(gone, "seed1"), { recursive: true });
  await assert.rejects(
    () => ensembleMembers(gone),
    /gone\/seed1: a member listed in \S+gone\/ensemble\.json does not exist/,
  );
  // a run that no list names (a seed trained later on its own): a warning, and it is a member
  const extra = await mixedEnsemble(join(tmp, "runs", "extra"));
  await writeFixtureRun(join(extra, "seed7"), { name: "tamrl", seed: 7, dataset: ds });
  const logs: string[] = [];
  const members = await ensembleMembers(extra, { onLog: (l) => logs.push(l) });
  assert.equal(members.length, 4);
  assert.deepEqual(logs, [
    `WARNING: ${join(extra, "seed7")} is not listed in ${join(extra, "ensemble.json")}, ${
      join(extra, "ensemble_meteo.json")
    }; used as a member`,
  ]);
  // without member lists (one seed at a time), an incomplete sub-folder is an error all the same
  const unlisted = await mixedEnsemble(join(tmp, "runs", "unlisted"));
  await Deno.remove(join(unlisted, "ensemble.json"));
  await Deno.remove(join(unlisted, "ensemble_meteo.json"));
  await Deno.remove(runPaths(join(unlisted, "meteo_seed0")).model);
  await assert.rejects(() => ensembleMembers(unlisted), /unlisted\/meteo_seed0: an incomplete/);
  // and through the task: exit 1, nothing written
  const dir = outDir();
  const ran = await predict(["--monthly", monthly, "--out", join(dir, "out.csv")], {
    run: noModel,
  });
  assertFails(ran, /^predict: \S+no_model\/seed1: an incomplete member run/);
  assertClean(dir);
});

/**
 * A folder nobody may write in: mode 0555, and for root (which modes do not stop) the immutable
 * attribute (chattr +i); null when neither can be had (the test is then skipped, saying so).
 */
async function unwritableFolder(): Promise<{ folder: string; missing: string } | null> {
  const folder = join(tmp, "read_only");
  await Deno.mkdir(folder);
  if (Deno.uid() !== 0) {
    await Deno.chmod(folder, 0o555);
  } else {
    try {
      const r = await new Deno.Command("chattr", { args: ["+i", folder], stderr: "null" }).output();
      if (!r.success) return null;
    } catch {
      return null;
    }
  }
  return { folder, missing: join(folder, "sub") };
}
const unwritableOrNull = await unwritableFolder();
const unwritable = unwritableOrNull ?? { folder: "", missing: "" };

globalThis.addEventListener("unload", () => {
  if (!unwritableOrNull) return;
  if (Deno.uid() === 0) {
    new Deno.Command("chattr", { args: ["-i", unwritable.folder] }).outputSync();
  } else Deno.chmodSync(unwritable.folder, 0o755);
});

Deno.test({
  name:
    "faults: --out or --report in a folder that cannot be written: one line naming it, before any work",
  ignore: unwritableOrNull === null,
}, async () => {
  const cases: [string[], RegExp][] = [
    [
      ["--out", join(unwritable.folder, "out.csv")],
      /^predict: --out \S+out\.csv: cannot write in the folder \S+read_only \((Permission denied|Operation not permitted) \(os error \d+\)\)$/,
    ],
    [
      ["--out", join(unwritable.folder, "out.parquet")],
      /^predict: --out \S+out\.parquet: cannot write in the folder/,
    ],
    [
      ["--out", join(unwritable.missing, "out.csv")],
      /^predict: --out \S+out\.csv: cannot create the folder \S+read_only\/sub \(/,
    ],
    [
      ["--out", join(outDir(), "ok.csv"), "--report", join(unwritable.folder, "report.json")],
      /^predict: --report \S+report\.json: cannot write in the folder/,
    ],
  ];
  const results = await twoAtATime(cases, ([args]) => predict(["--monthly", monthly, ...args]));
  cases.forEach(([args], i) => {
    assertFails(results[i], cases[i][1]);
    assert.doesNotMatch(results[i].stderr, /backend|days predicted/, "refused before any work");
    const out = args[1];
    assert.throws(() => Deno.statSync(out), Deno.errors.NotFound, `${out} written`);
  });
  assertClean(join(tmp, "out", `o${outCount - 1}`)); // the --report case left no ok.csv, no lock
  // a write that fails after the checks: an error naming the path, not a polars panic
  const frame = pl.DataFrame({ a: [1, 2] });
  for (const ext of ["csv", "parquet"]) {
    const path = join(unwritable.folder, `late.${ext}`);
    await assert.rejects(
      () => writePredictionTable(frame, path),
      new RegExp(`^Error: ${path.replaceAll(".", "\\.")}: cannot (write the output|create)`),
    );
  }
});

Deno.test("faults: a second predict to an --out (or --report) being written is refused naming the holder", async () => {
  const dir = outDir();
  const out = join(dir, "out.csv");
  const report = join(dir, "report.json");
  // a live holder: this test process (a Deno process, as predict is)
  for (const [path, args] of [[out, []], [report, ["--report", report]]] as const) {
    const held = await claimFile(outputLockPath(path), { name: path });
    assert.ok(held);
    try {
      const ran = await predict([
        "--monthly",
        monthly,
        "--out",
        path === out ? out : join(dir, "other.csv"),
        ...args,
      ]);
      const flag = path === out ? "--out" : "--report";
      assertFails(
        ran,
        new RegExp(
          `^predict: ${flag} \\S+${basename(path)} is being written by another predict ` +
            `\\(process ${Deno.pid} on \\S+ since \\S+; lock \\S+\\.lock\\)`,
        ),
      );
    } finally {
      await held.release();
    }
  }
  assertClean(dir);
});

Deno.test("faults: what a killed predict left beside --out is named and removed by the next run", async () => {
  const dir = outDir();
  const out = join(dir, "out.csv");
  // a SIGKILLed run: its lock (a dead PID), its partial temp files (today's and older names)
  const child = new Deno.Command("true").spawn();
  await child.status;
  const now = new Date().toISOString();
  await Deno.writeTextFile(
    outputLockPath(out),
    JSON.stringify({
      unit: out,
      pid: child.pid,
      host: Deno.hostname(),
      startedAt: now,
      heartbeat: now,
    }),
  );
  const stale = [outputTempPath(out, { pid: child.pid }), `${out}.1a2b3c4d.tmp`];
  for (const f of stale) await Deno.writeTextFile(f, "site,date,GPP\nFR-Pue,2012-");
  assert.deepEqual(leftoverTemps(out), [...stale].sort());
  const ran = await predict(["--monthly", monthly, "--out", out]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.match(
    ran.stderr,
    /predict: \S+out\.csv\.lock: took over the lock of a run that was killed/,
  );
  for (const f of stale) {
    assert.match(ran.stderr, new RegExp(`predict: removed ${f.replaceAll(".", "\\.")}, a partial`));
  }
  assertClean(dir, ["out.csv"]);
  assert.ok(pl.readCSV(out).height > 0);
});

Deno.test("faults: SIGINT and SIGTERM while an output is being written remove the temp file and the lock", async () => {
  const output = new URL("../lib/predict/output.ts", import.meta.url).href;
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    const dir = outDir();
    const out = join(dir, "sub", "out.csv");
    // a process in the middle of a write: guarded output, a partial temp file, then waiting
    const script = `
      import { guardOutputs, outputTempPath } from ${JSON.stringify(output)};
      await guardOutputs([{ flag: "--out", path: ${JSON.stringify(out)} }], {
        onSignal: (sig, removed) => {
          console.error(sig + " removed " + removed.join(","));
          Deno.exit(sig === "SIGINT" ? 130 : 143);
        },
      });
      Deno.writeTextFileSync(outputTempPath(${JSON.stringify(out)}), "site,date\\nFR-Pue,20");
      console.log("writing");
      setTimeout(() => {}, 60_000);
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      cwd: PROJECT_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /writing/);
    assert.equal(leftoverTemps(out).length, 1, "the temp file exists while writing");
    assert.ok(Deno.statSync(outputLockPath(out)).isFile, "the lock exists while writing");
    child.kill(signal);
    reader.releaseLock();
    const status = await child.output();
    const stderr = new TextDecoder().decode(status.stderr);
    assert.equal(status.code, code, stderr);
    assert.match(stderr, new RegExp(`${signal} removed \\S+out\\.csv\\.tmp-\\d+`));
    assertClean(dir); // temp, lock and the folder made for the output are gone
  }
  // the guard's release without a write leaves nothing either (folders it made included)
  const dir = outDir();
  const guard = await guardOutputs([{ flag: "--out", path: join(dir, "a", "b", "out.csv") }]);
  assert.ok(Deno.statSync(join(dir, "a", "b", "out.csv.lock")).isFile);
  await guard.release();
  assertClean(dir);
});

Deno.test("faults: SIGTERM to deno task predict mid-run exits 143 with nothing left", async () => {
  // the fixture run takes well under a second: on an idle machine it can finish before the signal
  // arrives (exit 0, output written); such an attempt says nothing, so it is tried again (3 times)
  for (let attempt = 1;; attempt++) {
    const { status, stderr, dir } = await sigtermPredict();
    if (status.code === 0 && attempt < 3) continue;
    assert.equal(status.code, 143, stderr);
    assert.match(stderr, /predict: SIGTERM: stopped.*nothing written to \S+out\.parquet/);
    assertClean(dir);
    return;
  }
});

async function sigtermPredict() {
  const dir = outDir();
  const out = join(dir, "out.parquet");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "-q",
      "predict",
      "--run",
      ensemble,
      "--backend",
      "cpu",
      "--data",
      daily,
      "--sites",
      sites,
      "--monthly",
      monthly,
      "--out",
      out,
    ],
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // wait until the output is guarded (its lock exists), then stop the run
  const t0 = Date.now();
  while (Date.now() - t0 < 30_000) {
    try {
      Deno.statSync(outputLockPath(out));
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  child.kill("SIGTERM");
  const status = await child.output();
  return { status, stderr: new TextDecoder().decode(status.stderr), dir };
}

Deno.test("faults: tables on a unit whose predictions.parquet is truncated names the file and the unit", async () => {
  const runDir = join(PROJECT_ROOT, "results", `faults_test_${Deno.pid}`);
  try {
    const units: Unit[] = [0, 1].map((seed) => ({
      id: `lstm_koppen_s${seed}`,
      model: "lstm",
      split: "koppen",
      seed,
      variant: null,
      label: "lstm",
      overrides: {},
    }));
    const report = await runPlan(units, {
      runDir,
      log: () => {},
      runner: async (unit, { dir }) => {
        const rows = syntheticTable({ models: ["lstm"], days: 60, seed: unit.seed });
        await writePredictions(join(dir, "predictions.parquet"), rows);
        return {
          predictions: "predictions.parquet",
          backend: "cpu",
          configHash: "h",
          dataSummary: "synthetic",
          testSites: [],
          extra: {},
        };
      },
    });
    assert.equal(report.failed.length, 0);
    const file = join(runDir, "units", "lstm_koppen_s1", "predictions.parquet");
    const bytes = await Deno.readFile(file);
    await Deno.writeFile(file, bytes.slice(0, Math.floor(bytes.length / 2)));
    await assert.rejects(
      () => buildReport(runDir, { sites: [], figures: false, log: () => {} }),
      new RegExp(
        `unit lstm_koppen_s1: cannot read ${
          file.replaceAll(".", "\\.")
        } \\(.+\\); run the unit again`,
      ),
    );
    // through the task: exit 1, one line
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "tables", "--run", basename(runDir), "--no-figures"],
      cwd: PROJECT_ROOT,
      env: { NO_COLOR: "1", TAMFLUX_DEBUG: "0" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    const lines = ourLines(stderr).filter((l) => l.startsWith("tables: "));
    assert.equal(lines.length, 1, stderr);
    assert.match(
      lines[0],
      /^tables: tamflux report: unit lstm_koppen_s1: cannot read \S+predictions\.parquet/,
    );
    assert.ok(!/^ {4}at /m.test(stderr), stderr);
  } finally {
    await Deno.remove(runDir, { recursive: true }).catch(() => {});
  }
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(tmp, { recursive: true });
  } catch {
    // already gone
  }
});

// sites.csv of the data folder must hold the fixture sites (the prediction site table)
assert.ok((await loadSites(sites)).some((s) => s.SITE_ID === "FR-Pue"));
