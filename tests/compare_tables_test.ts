import assert from "node:assert/strict";
import { compareRunTables, tableDifferences } from "../lib/experiments/compare.ts";

Deno.test("compare: numbers within tolerance are equal, other changes are reported", () => {
  const a = { columns: ["model", "rmse"], rows: [["x", 1.5], ["y", null]] };
  assert.deepEqual(tableDifferences(a, structuredClone(a)), []);
  assert.deepEqual(tableDifferences(a, { ...a, rows: [["x", 1.5 + 1e-13], ["y", null]] }), []);
  assert.equal(tableDifferences(a, { ...a, rows: [["x", 1.51], ["y", null]] }).length, 1);
  assert.equal(tableDifferences(a, { ...a, rows: [["x", 1.5], ["y", 0]] }).length, 1);
  assert.match(tableDifferences(a, { ...a, rows: [["x", 1.5]] })[0], /2 rows vs 1/);
  assert.match(tableDifferences(a, { ...a, columns: ["model", "r2"] })[0], /columns differ/);
  // a row with a cell more (or less) is a difference, not compared up to the shorter row
  assert.deepEqual(tableDifferences(a, { ...a, rows: [["x", 1.5, 7], ["y", null]] }), [
    "row 0 (x): 2 cells vs 3",
  ]);
});

Deno.test("compare: run folders; provenance is ignored, a missing table is a difference", async () => {
  const root = await Deno.makeTempDir();
  const write = async (run: string, name: string, t: object) => {
    await Deno.mkdir(`${root}/${run}/tables`, { recursive: true });
    await Deno.writeTextFile(`${root}/${run}/tables/${name}`, JSON.stringify(t));
  };
  const t = { columns: ["m", "v"], rows: [["a", 1]] };
  await write("a", "main.json", { ...t, provenance: { commit: "1" } });
  await write("b", "main.json", { ...t, provenance: { commit: "2" } });
  assert.deepEqual(await compareRunTables(`${root}/a`, `${root}/b`), {
    files: ["main.json"],
    differences: [],
  });
  await write("b", "extra.json", t);
  const { differences } = await compareRunTables(`${root}/a`, `${root}/b`);
  assert.match(differences[0], /extra.json: only in/);
  await Deno.remove(root, { recursive: true });
});
