/**
 * ensembleMembers on fake folders (directories, done.json markers and a model.json per run
 * folder): a run folder, an ensemble folder, and a reproduce run folder whose units are chosen by
 * model, split and done marker.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ensembleMembers } from "../lib/predict/ensemble.ts";

/** A fake reproduce unit: units/<id>/run/model.json, and done.json when `done`. */
async function unit(
  runDir: string,
  u: { label: string; split: string; seed: number; done?: boolean; runFolder?: boolean },
) {
  const id = `${u.label.replace(":", "-")}_${u.split}_s${u.seed}`;
  const dir = join(runDir, "units", id);
  await Deno.mkdir(join(dir, "run"), { recursive: true });
  if (u.runFolder !== false) await Deno.writeTextFile(join(dir, "run", "model.json"), "{}");
  if (u.done !== false) {
    const model = u.label.split(":")[0];
    await Deno.writeTextFile(
      join(dir, "done.json"),
      JSON.stringify({ unit: { id, model, split: u.split, seed: u.seed, label: u.label } }),
    );
  }
  return join(dir, "run");
}

Deno.test("ensembleMembers: a reproduce run gives the seed ensemble of one model and split", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tamflux-members-" });
  try {
    const run = join(tmp, "results", "r");
    const k0 = await unit(run, { label: "tamrl", split: "koppen", seed: 0 });
    const k2 = await unit(run, { label: "tamrl", split: "koppen", seed: 2 });
    const k10 = await unit(run, { label: "tamrl", split: "koppen", seed: 10 });
    await unit(run, { label: "tamrl", split: "koppen", seed: 1, done: false }); // unfinished
    const i0 = await unit(run, { label: "tamrl", split: "igbp", seed: 0 });
    const l0 = await unit(run, { label: "lstm", split: "koppen", seed: 0 });
    const a0 = await unit(run, { label: "tamrl:no_balance", split: "koppen", seed: 0 });
    await Deno.mkdir(join(run, "units", "trees_koppen_s0"), { recursive: true });
    await Deno.writeTextFile(
      join(run, "units", "trees_koppen_s0", "done.json"),
      JSON.stringify({
        unit: { id: "trees_koppen_s0", model: "trees", split: "koppen", seed: 0, label: "trees" },
      }),
    );

    const log: string[] = [];
    const onLog = (line: string) => log.push(line);
    // default: tamrl; two splits -> koppen, said in the log; seeds in numeric order; unfinished out
    assert.deepEqual(await ensembleMembers(run, { onLog }), [k0, k2, k10]);
    assert.ok(log.some((l) => /splits igbp, koppen; using koppen/.test(l)), log.join("\n"));
    assert.ok(log.some((l) => /1 unfinished unit/.test(l)), log.join("\n"));
    assert.deepEqual(await ensembleMembers(run, { split: "igbp" }), [i0]);
    assert.deepEqual(await ensembleMembers(run, { model: "lstm" }), [l0]);
    assert.deepEqual(await ensembleMembers(run, { model: "tamrl:no_balance" }), [a0]);
    assert.deepEqual(await ensembleMembers(run, { model: "tamrl-no_balance" }), [a0]);
    await assert.rejects(ensembleMembers(run, { model: "trees" }), /trees units have no neural/);
    await assert.rejects(
      ensembleMembers(run, { model: "ctlstm" }),
      /no finished unit of model ctlstm/,
    );
    await assert.rejects(ensembleMembers(run, { model: "lstm", split: "igbp" }), /on split igbp/);

    // a model on two splits, neither koppen, needs --split
    const run2 = join(tmp, "results", "r2");
    await unit(run2, { label: "lstm", split: "igbp", seed: 0 });
    await unit(run2, { label: "lstm", split: "kfold", seed: 0 });
    await assert.rejects(ensembleMembers(run2, { model: "lstm" }), /choose one with --split/);
    // a finished unit without a full run folder (older runs kept weights only)
    const run3 = join(tmp, "results", "r3");
    await unit(run3, { label: "tamrl", split: "koppen", seed: 0, runFolder: false });
    await assert.rejects(ensembleMembers(run3), /no run folder with model\.json/);

    // run and ensemble folders still work; --model/--split are refused there
    assert.deepEqual(await ensembleMembers(k0), [k0]);
    assert.deepEqual(await ensembleMembers(join(run, "units", "tamrl_koppen_s0")), [k0]);
    await assert.rejects(ensembleMembers(k0, { model: "lstm" }), /reproduce run folder/);
    await assert.rejects(ensembleMembers(tmp), /neither a run folder/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
