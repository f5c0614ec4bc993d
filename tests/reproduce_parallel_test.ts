/**
 * `deno task reproduce --jobs 2` gives the same predictions, byte for byte, as a sequential run
 * (every unit is seeded on its own, so which worker runs it does not matter). Real data, a
 * minute-scale profile: trees and LSTM on 12 sites, one epoch.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "../lib/data/paths.ts";
import { removeRuns, reproduceUnits, TINY_UNITS, writeTinyProfile } from "./_reproduce_fixtures.ts";

Deno.test("reproduce: two worker processes give the same predictions as one", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tamflux-par-" });
  const profilePath = await writeTinyProfile(tmp);
  const stamp = `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const names = [`_test_seq_${stamp}`, `_test_par_${stamp}`];
  try {
    await reproduceUnits(profilePath, { run: names[0], jobs: 1 });
    await reproduceUnits(profilePath, { run: names[1], jobs: 2 });
    const unitsDir = (n: string) => join(PROJECT_ROOT, "results", n, "units");
    const units = [...Deno.readDirSync(unitsDir(names[0]))].map((e) => e.name).sort();
    assert.deepEqual(units, TINY_UNITS);
    for (const u of units) {
      const a = await Deno.readFile(join(unitsDir(names[0]), u, "predictions.parquet"));
      const b = await Deno.readFile(join(unitsDir(names[1]), u, "predictions.parquet"));
      assert.ok(a.length > 1000, `${u}: predictions are empty`);
      assert.deepEqual(
        b,
        a,
        `${u}: the parallel run's predictions differ from the sequential run's`,
      );
    }
  } finally {
    await removeRuns(names);
    await Deno.remove(tmp, { recursive: true });
  }
});
