/**
 * A plain Markdown table from records, for notebooks and reports that need a quick table without
 * the provenance of a result table (`tables.ts`).
 *
 * @module
 */

/** A table cell. */
export type MarkdownCell = string | number | boolean | null | undefined;

/** Format a number: integers as they are, others with `digits` decimals (scientific when tiny). */
export function formatNumber(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && a < 10 ** -digits) return v.toExponential(2);
  return v.toFixed(digits);
}

/**
 * A Markdown table of records: the columns are `options.columns` or the keys of the first record;
 * `|` in cells is escaped, null and undefined are empty.
 *
 * @example
 * ```ts
 * import { markdownTable } from "./markdown.ts";
 * console.log(markdownTable([{ site: "A", rmse: 1.23456 }], { digits: 2 }));
 * // | site | rmse |
 * // |---|---|
 * // | A | 1.23 |
 * ```
 */
export function markdownTable(
  rows: readonly Record<string, MarkdownCell>[],
  options: { columns?: readonly string[]; digits?: number } = {},
): string {
  const columns = options.columns ?? Object.keys(rows[0] ?? {});
  const esc = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
  const cell = (v: MarkdownCell) =>
    v === null || v === undefined
      ? ""
      : typeof v === "number"
      ? formatNumber(v, options.digits ?? 3)
      : esc(String(v));
  return [
    `| ${columns.map(esc).join(" | ")} |`,
    `|${columns.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${columns.map((c) => cell(r[c])).join(" | ")} |`),
  ].join("\n");
}
