/**
 * Compare the tables of two runs by their numbers: every `tables/*.json` of one run must exist in
 * the other with the same columns and rows (numbers equal within a relative tolerance); titles,
 * notes, provenance (commit, timings) and citations are not compared.
 *
 * @module
 */
import { join } from "node:path";

function sameCell(a: unknown, b: unknown, tol: number): boolean {
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
    return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Differences between two tables (`{ columns, rows }`), as lines; empty when equal.
 *
 * @example
 * ```ts
 * import { tableDifferences } from "./compare.ts";
 * tableDifferences({ columns: ["x"], rows: [[1]] }, { columns: ["x"], rows: [[1 + 1e-12]] }); // []
 * ```
 */
export function tableDifferences(
  a: { columns: unknown[]; rows: unknown[][] },
  b: { columns: unknown[]; rows: unknown[][] },
  options: { tolerance?: number } = {},
): string[] {
  const tol = options.tolerance ?? 1e-9;
  if (JSON.stringify(a.columns) !== JSON.stringify(b.columns)) {
    return [`columns differ: ${JSON.stringify(a.columns)} vs ${JSON.stringify(b.columns)}`];
  }
  if (a.rows.length !== b.rows.length) return [`${a.rows.length} rows vs ${b.rows.length}`];
  const out: string[] = [];
  a.rows.forEach((row, i) => {
    if (row.length !== b.rows[i].length) {
      out.push(`row ${i} (${row[0]}): ${row.length} cells vs ${b.rows[i].length}`);
      return;
    }
    row.forEach((cell, j) => {
      if (!sameCell(cell, b.rows[i][j], tol)) {
        out.push(`row ${i} (${row[0]}), ${a.columns[j]}: ${cell} vs ${b.rows[i][j]}`);
      }
    });
  });
  return out;
}

/**
 * Compare every `tables/*.json` of two run folders; returns the files compared and the
 * differences (a file missing on either side is a difference).
 *
 * @example
 * ```ts ignore
 * import { compareRunTables } from "./compare.ts";
 * const { files, differences } = await compareRunTables("results/a", "results/b");
 * ```
 */
export async function compareRunTables(
  runA: string,
  runB: string,
  options: { tolerance?: number } = {},
): Promise<{ files: string[]; differences: string[] }> {
  const list = async (dir: string) => {
    const names: string[] = [];
    for await (const e of Deno.readDir(join(dir, "tables"))) {
      if (e.isFile && e.name.endsWith(".json")) names.push(e.name);
    }
    return names.sort();
  };
  const [a, b] = [await list(runA), await list(runB)];
  const differences = [
    ...a.filter((f) => !b.includes(f)).map((f) => `${f}: only in ${runA}`),
    ...b.filter((f) => !a.includes(f)).map((f) => `${f}: only in ${runB}`),
  ];
  const files = a.filter((f) => b.includes(f));
  for (const f of files) {
    const read = async (dir: string) =>
      JSON.parse(await Deno.readTextFile(join(dir, "tables", f))) as {
        columns: unknown[];
        rows: unknown[][];
      };
    const diffs = tableDifferences(await read(runA), await read(runB), options);
    differences.push(...diffs.map((d) => `${f}: ${d}`));
  }
  return { files, differences };
}
