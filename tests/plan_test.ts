import assert from "node:assert/strict";
import { join } from "node:path";
import { mergePatch } from "../lib/train/merge_patch.ts";
import {
  buildPlan,
  finishedUnits,
  parseShard,
  type Profile,
  profileExtension,
  ProfileSchema,
  readDone,
  runMissingUnits,
  runPlan,
  shardUnits,
  type Unit,
  type UnitRunner,
} from "../lib/experiments/plan.ts";

function profile(extra: Record<string, unknown> = {}): Profile {
  return ProfileSchema.parse({
    name: "test",
    trainConfig: "configs/quick.json",
    overrides: { train: { epochs: 2 } },
    modelOverrides: { tamrl: { model: { hidden: 8 } } },
    models: ["trees", "lstm", "tamrl"],
    splits: ["koppen", "igbp"],
    seeds: [0, 1],
    ablations: {
      no_balance: { description: "alpha 0", overrides: { train: { loss: { useBalance: false } } } },
      meteo: { description: "no LAI/EVI", overrides: { data: { featureSet: "meteo" } } },
    },
    ...extra,
  });
}

/** A fake runner that records calls and writes a file, optionally failing on given ids. */
function fakeRunner(calls: string[], failOn = new Set<string>()): UnitRunner {
  return async (unit, { dir }) => {
    calls.push(unit.id);
    await Deno.writeTextFile(join(dir, "predictions.parquet"), unit.id);
    if (failOn.has(unit.id)) throw new Error(`boom in ${unit.id}`);
    return {
      predictions: "predictions.parquet",
      backend: "cpu",
      configHash: "h",
      dataSummary: "fake",
      testSites: [],
      extra: {},
    };
  };
}

Deno.test("the plan has model x split x seed units plus the ablation variants, unique ids", () => {
  const units = buildPlan(profile());
  // 3 models x 2 splits x 2 seeds + 2 ablations x (first split) x 2 seeds
  assert.equal(units.length, 12 + 4);
  assert.equal(new Set(units.map((u) => u.id)).size, units.length);
  const abl = units.filter((u) => u.variant);
  assert.deepEqual(abl.map((u) => u.id), [
    "tamrl-no_balance_koppen_s0",
    "tamrl-meteo_koppen_s0",
    "tamrl-no_balance_koppen_s1",
    "tamrl-meteo_koppen_s1",
  ]);
  const nb = abl[0];
  assert.equal(nb.label, "tamrl:no_balance");
  assert.deepEqual(nb.overrides, {
    train: { epochs: 2, loss: { useBalance: false } },
    model: { hidden: 8 },
  });
  const trees = units.find((u) => u.model === "trees")!;
  assert.deepEqual(trees.overrides, {});
});

Deno.test("mergePatch is a JSON merge patch: objects merge, null removes, the rest replaces", () => {
  const base = { a: { b: 1, c: [1, 2] }, d: 1 };
  const out = mergePatch(base, { a: { c: [3] }, e: { f: 1 }, d: null });
  assert.deepEqual(out, { a: { b: 1, c: [3] }, e: { f: 1 } });
  assert.deepEqual(base, { a: { b: 1, c: [1, 2] }, d: 1 });
  // RFC 7386 appendix A cases: a patch that is not an object replaces; a non-object target
  // counts as {} (so nulls inside are dropped); undefined (not JSON) leaves the target
  assert.deepEqual(mergePatch({ a: "b" }, ["c"]), ["c"]);
  assert.deepEqual(mergePatch({ e: null }, { a: 1 }), { e: null, a: 1 });
  assert.deepEqual(mergePatch({ a: [{ b: "c" }] }, { a: { b: "d", c: null } }), { a: { b: "d" } });
  assert.deepEqual(mergePatch({ a: 1 }, { a: undefined }), { a: 1 });
  assert.deepEqual(mergePatch({ a: 1 }, undefined), { a: 1 });
});

Deno.test("shards: parse i/n, and every unit lands in exactly one shard", () => {
  assert.deepEqual(parseShard("0/3"), { index: 0, count: 3 });
  assert.throws(() => parseShard("3/3"), /0 <= i < n/);
  assert.throws(() => parseShard("1-3"), /i\/n/);
  const units = buildPlan(profile());
  for (const n of [1, 2, 3, 5, 16, 40]) {
    const seen = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      for (const u of shardUnits(units, { index: i, count: n })) {
        seen.set(u.id, (seen.get(u.id) ?? 0) + 1);
      }
    }
    assert.equal(seen.size, units.length, `n=${n}`);
    assert.ok([...seen.values()].every((c) => c === 1), `n=${n}`);
  }
  assert.deepEqual(shardUnits(["a", "b", "c", "d", "e"], { index: 1, count: 2 }), ["b", "d"]);
});

Deno.test("a re-run skips finished units; a failed unit reruns; leftovers are cleared", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "tamflux_plan_" });
  try {
    const units = buildPlan(profile()).slice(0, 5);
    const calls: string[] = [];
    const first = await runPlan(units, {
      runDir,
      runner: fakeRunner(calls, new Set([units[2].id])),
      log: () => {},
    });
    assert.deepEqual(first.ran, [units[0].id, units[1].id, units[3].id, units[4].id]);
    assert.equal(first.failed.length, 1);
    assert.match(first.failed[0].error, /boom/);
    assert.equal((await finishedUnits(runDir)).length, 4);
    // The failed unit left a partial folder without done.json.
    await Deno.stat(join(runDir, "units", units[2].id, "predictions.parquet"));
    await assert.rejects(Deno.stat(join(runDir, "units", units[2].id, "done.json")));
    // A stray file from the interrupted attempt must not survive the rerun.
    await Deno.writeTextFile(join(runDir, "units", units[2].id, "stale.txt"), "x");

    calls.length = 0;
    const second = await runPlan(units, { runDir, runner: fakeRunner(calls), log: () => {} });
    assert.deepEqual(calls, [units[2].id]);
    assert.deepEqual(second.skipped, [units[0].id, units[1].id, units[3].id, units[4].id]);
    assert.deepEqual(second.ran, [units[2].id]);
    await assert.rejects(Deno.stat(join(runDir, "units", units[2].id, "stale.txt")));

    calls.length = 0;
    const third = await runPlan(units, { runDir, runner: fakeRunner(calls), log: () => {} });
    assert.deepEqual(calls, []);
    assert.equal(third.skipped.length, 5);
    const done = await finishedUnits(runDir);
    assert.equal(done.length, 5);
    assert.ok(done.every((d) => d.wallSeconds >= 0 && d.outcome.backend === "cpu"));
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("a unit whose folder cannot be prepared fails alone, its claim stopped and kept", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "tamflux_plan_" });
  try {
    const units = buildPlan(profile()).slice(0, 2);
    const claimDir = join(runDir, ".claims");
    const calls: string[] = [];
    // no unit folder can be made (say, a full disk)
    const mkdir = Deno.mkdir;
    Deno.mkdir = (path, options) =>
      String(path).includes(join(runDir, "units"))
        ? Promise.reject(new Error("no space left on device"))
        : mkdir(path, options);
    let report;
    try {
      report = await runPlan(units, {
        runDir,
        runner: fakeRunner(calls),
        log: () => {},
        claimDir,
        claimTiming: { heartbeatMs: 10 },
      });
    } finally {
      Deno.mkdir = mkdir;
    }
    assert.match(report.failed[0].error, /no space left/);
    assert.deepEqual(calls, []);
    assert.deepEqual(report.failed.map((f) => f.id), units.map((u) => u.id));
    assert.deepEqual(report.ran, []);
    // failed units keep their claims (a re-run takes them over), with the heartbeat stopped
    const claims = [...Deno.readDirSync(claimDir)].map((e) => e.name).sort();
    assert.deepEqual(claims, units.map((u) => u.id).sort());
    const before = Deno.readTextFileSync(join(claimDir, units[0].id));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(Deno.readTextFileSync(join(claimDir, units[0].id)), before, "heartbeat stopped");
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("a done.json that is not JSON is an error naming the file", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "tamflux_plan_" });
  try {
    const unit = buildPlan(profile())[0];
    await Deno.mkdir(join(runDir, "units", unit.id), { recursive: true });
    await Deno.writeTextFile(join(runDir, "units", unit.id, "done.json"), "{ cut sh");
    await assert.rejects(
      () => readDone(runDir, unit),
      new RegExp(`units/${unit.id}/done\\.json is not valid JSON`),
    );
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("sharded runs over one folder run every unit exactly once", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "tamflux_shard_" });
  try {
    const units: Unit[] = buildPlan(profile());
    const calls: string[] = [];
    const n = 3;
    for (let i = 0; i < n; i++) {
      await runPlan(shardUnits(units, { index: i, count: n }), {
        runDir,
        runner: fakeRunner(calls),
        log: () => {},
      });
    }
    assert.equal(calls.length, units.length);
    assert.deepEqual([...calls].sort(), units.map((u) => u.id).sort());
    // The whole plan afterwards has nothing left to do.
    const rerun: string[] = [];
    const r = await runPlan(units, { runDir, runner: fakeRunner(rerun), log: () => {} });
    assert.deepEqual(rerun, []);
    assert.equal(r.skipped.length, units.length);
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("profiles in configs/profiles are valid and quick has every model and the ablations", async () => {
  const { loadProfile } = await import("../lib/experiments/plan.ts");
  const root = new URL("..", import.meta.url).pathname;
  const quick = (await loadProfile("quick", { root })).profile;
  assert.deepEqual([...quick.models].sort(), [
    "ctlstm",
    "lstm",
    "mlp",
    "tamlstm",
    "tamrl",
    "trees",
  ]);
  assert.deepEqual(quick.splits, ["koppen"]);
  assert.equal(quick.seeds.length, 1);
  assert.ok(Object.keys(quick.ablations).length >= 4);
  const paper = (await loadProfile("paper", { root })).profile;
  assert.deepEqual([...paper.splits].sort(), ["igbp", "koppen"]);
  assert.equal(paper.seeds.length, 10);
});

Deno.test("work-queue mode: concurrent workers with a claim folder run each unit once", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "tamflux_queue_" });
  try {
    const units = buildPlan(profile());
    const calls: string[] = [];
    const slow: UnitRunner = async (unit, ctx) => {
      await new Promise((r) => setTimeout(r, 1));
      return await fakeRunner(calls)(unit, ctx);
    };
    const claimDir = join(runDir, ".claims");
    const reports = await Promise.all(
      [0, 1, 2].map(() => runPlan(units, { runDir, runner: slow, log: () => {}, claimDir })),
    );
    assert.deepEqual([...calls].sort(), units.map((u) => u.id).sort());
    assert.equal(reports.reduce((a, r) => a + r.ran.length, 0), units.length);
    assert.ok(
      reports.every((r) =>
        r.ran.length + r.claimedElsewhere.length + r.skipped.length === units.length
      ),
    );
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("runMissingUnits: the run's own plan minus done units; no or a bad profile.json is an error", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "tamflux_plan_" });
  try {
    const p = profile();
    await assert.rejects(() => runMissingUnits(runDir), /cannot read \S+profile\.json/);
    await Deno.writeTextFile(join(runDir, "profile.json"), "{ cut sh");
    await assert.rejects(() => runMissingUnits(runDir), /cannot read \S+profile\.json/);
    await Deno.writeTextFile(join(runDir, "profile.json"), JSON.stringify({ ...p, seeds: "x" }));
    await assert.rejects(
      () => runMissingUnits(runDir),
      /profile\.json is not a valid profile: seeds/,
    );
    await Deno.writeTextFile(join(runDir, "profile.json"), JSON.stringify(p));
    const units = buildPlan(p);
    assert.deepEqual(await runMissingUnits(runDir), units.map((u) => u.id));
    await runPlan(units.slice(0, 2), { runDir, runner: fakeRunner([]), log: () => {} });
    assert.deepEqual(await runMissingUnits(runDir), units.slice(2).map((u) => u.id));
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("profileExtension: added units keep the run, a changed or dropped unit does not", async () => {
  const base = profile();
  // the same profile: nothing added
  assert.deepEqual(await profileExtension(base, base), []);
  // a new ablation (a CV candidate) and a new seed only add units
  const more = profile({
    seeds: [0, 1, 2],
    ablations: {
      ...base.ablations,
      water: { description: "water", overrides: { data: { featureSet: "meteo_trailing" } } },
    },
  });
  const added = await profileExtension(base, more);
  assert.ok(added);
  assert.equal(added.length, buildPlan(more).length - buildPlan(base).length);
  assert.ok(added.includes("tamrl-water_koppen_s0") && added.includes("lstm_igbp_s2"));
  assert.ok(!added.some((id) => buildPlan(base).some((u) => u.id === id)));
  // a changed ablation patch changes finished units: refused
  const changed = profile({
    ablations: {
      ...base.ablations,
      meteo: { description: "no LAI/EVI", overrides: { data: { featureSet: "meteo_trailing" } } },
    },
  });
  assert.equal(await profileExtension(base, changed), null);
  // a new model with its own model overrides leaves the other units as they were
  const lstmOnly = profile({ models: ["trees", "lstm"], modelOverrides: {}, ablations: {} });
  const withTamrl = await profileExtension(lstmOnly, profile({ ablations: {} }));
  assert.ok(withTamrl && withTamrl.every((id) => id.startsWith("tamrl")));
  // changed model overrides change that model's units: refused
  assert.equal(
    await profileExtension(base, profile({ modelOverrides: { tamrl: { model: { hidden: 16 } } } })),
    null,
  );
  // a changed base (overrides, train config) or a dropped seed: refused
  assert.equal(
    await profileExtension(base, profile({ overrides: { train: { epochs: 3 } } })),
    null,
  );
  assert.equal(
    await profileExtension(base, profile({ trainConfig: "configs/standard.json" })),
    null,
  );
  assert.equal(await profileExtension(base, profile({ seeds: [0] })), null);
  // not a profile at all
  assert.equal(await profileExtension({ name: 1 }, base), null);
});
