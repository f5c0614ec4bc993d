/**
 * `deno run -A tests/cluster/compare_tables.ts <runDirA> <runDirB>`: exit 0 when the tables of
 * the two runs have the same numbers (lib/experiments/compare.ts), else print the differences
 * and exit 1.
 *
 * @module
 */
import { compareRunTables } from "../../lib/experiments/compare.ts";

const [a, b] = Deno.args;
if (!a || !b) {
  console.error("usage: compare_tables.ts <runDirA> <runDirB>");
  Deno.exit(2);
}
const { files, differences } = await compareRunTables(a, b);
if (files.length === 0) differences.push("no tables to compare");
for (const d of differences.slice(0, 20)) console.log(`  ${d}`);
console.log(
  `${files.length} table files compared, ${differences.length} differences`,
);
Deno.exit(differences.length ? 1 : 0);
