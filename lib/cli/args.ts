/**
 * One way to declare a task's command-line options, shared by every task in `tasks/`.
 *
 * A task declares its options once with the builders of {@linkcode opt} (each carries its type,
 * its default and its validation, e.g. an integer >= 1, one of a few names, or any zod schema);
 * {@linkcode defineTask} adds the name, a one-line description and examples; {@linkcode cli}
 * parses `Deno.args` against it and returns the typed values.
 *
 * - `--help` / `-h` prints the description, the usage, every option with its type and default,
 *   and the examples, then exits 0.
 * - An unknown flag, a missing or bad value (`--jobs abc`) or a stray argument prints ONE line
 *   naming the flag and the value, then the usage line, and exits 2.
 * - After parsing, an error in the work (a thrown error or a rejected promise that nobody
 *   handles) prints one line (`<task>: <message>`, the message names the file) and exits 1.
 * - Stack traces only with `TAMFLUX_DEBUG=1`.
 *
 * Why our own module over `node:util` parseArgs rather than `npm:commander` or `npm:cmd-ts`:
 * parseArgs (built into Deno, no new dependency) tokenizes (`--x v`, `--x=v`, `-h`, `--`, strict
 * unknown-flag detection); this module adds what it lacks, typed values inferred from the
 * declaration, validation, help text and the exit-code contract, in about 300 lines. commander
 * would bring its own help layout, exit handling (process.exit) and untyped values, cmd-ts a
 * second style of validation beside zod; both are a dependency for the 14 small tasks.
 *
 * @example
 * ```ts
 * import { cli, defineTask, opt } from "./args.ts";
 *
 * const TASK = defineTask({
 *   name: "tables",
 *   description: "merges the finished units of a run into tables and figures",
 *   options: {
 *     run: opt.string("run folder under results/", { default: "quick", arg: "name" }),
 *     jobs: opt.int("worker processes", { min: 1 }),
 *     "no-figures": opt.flag("tables only"),
 *   },
 *   examples: ["deno task tables --run smoke"],
 * });
 * const values = cli(TASK, { args: ["--jobs", "2"], exit: false });
 * // values: { run: "quick", jobs: 2, "no-figures": false }
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { z } from "zod";

/** One declared option; `T` is the type of its value in the parsed result. */
export interface Option<T> {
  /** boolean flags take no value; string options take one (or several with `multiple`). */
  readonly kind: "boolean" | "string";
  /** What the option does, shown by `--help`. */
  readonly description: string;
  /** The value's placeholder in the usage, e.g. `n` in `--jobs <n>`. */
  readonly arg: string;
  /** The value's type as `--help` shows it, e.g. `int >= 1` or `quick|paper`. */
  readonly type: string;
  /** A one-letter alias (`-h`). */
  readonly short?: string;
  /** Repeatable: every occurrence is collected into an array. */
  readonly multiple?: boolean;
  /** Missing is a usage error. */
  readonly required?: boolean;
  /** Left out of the usage and the help (e.g. an internal `--worker`). */
  readonly hidden?: boolean;
  /** The default as `--help` shows it (undefined: no default). */
  readonly defaultText?: string;
  /** The value when the option is absent. */
  readonly fallback: T;
  /** Text to value; throws an Error whose message says what was expected. */
  readonly parse: (text: string) => T;
}

// deno-lint-ignore no-explicit-any
type AnyOption = Option<any>;
/** A task's options, keyed by flag name (without the dashes). */
export type Options = Record<string, AnyOption>;
/** The parsed values of a set of options. */
export type Values<O extends Options> = {
  [K in keyof O]: O[K] extends Option<infer T> ? T : never;
};

/** A task's declaration: name, one-line description, options and examples. */
export interface TaskSpec<O extends Options> {
  /** The deno task name, e.g. `data:summary`. */
  name: string;
  /** One line; the README's Tasks table and deno.json show the same text. */
  description: string;
  options: O;
  /** Complete command lines, at least one. */
  examples: string[];
  /** Paragraphs printed after the options. */
  notes?: string[];
}

/** Thrown for a bad command line (also from a task, for checks across options): exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Common settings of the valued builders. */
export interface ValueSettings {
  /** The placeholder in the usage. */
  arg?: string;
  short?: string;
  required?: boolean;
  hidden?: boolean;
  /** How `--help` shows a default computed at run time (e.g. "one per core"). */
  defaultText?: string;
}

function valued<T>(
  description: string,
  s: ValueSettings & {
    default?: unknown;
    type: string;
    parse: (text: string) => T;
    multiple?: boolean;
  },
  argName: string,
): AnyOption {
  return {
    kind: "string",
    multiple: s.multiple,
    description,
    arg: s.arg ?? argName,
    type: s.type,
    short: s.short,
    required: s.required,
    hidden: s.hidden,
    defaultText: s.defaultText ?? (s.default === undefined ? undefined : String(s.default)),
    fallback: s.default,
    parse: s.parse,
  };
}

type WithDefault<S, T> = S & ({ default: T } | { required: true });

function quoted(text: string): string {
  return JSON.stringify(text);
}

function parseNumber(text: string, s: { int: boolean; min?: number; max?: number }): number {
  const n = text.trim() === "" ? NaN : Number(text);
  const kind = s.int ? "an integer" : "a number";
  if (!Number.isFinite(n) || (s.int && !Number.isInteger(n))) {
    throw new Error(`expected ${kind}, got ${quoted(text)}`);
  }
  if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) {
    const range = `${s.max === undefined ? "" : "in "}${rangeText(s)}`;
    throw new Error(`expected ${kind} ${range}, got ${quoted(text)}`);
  }
  return n;
}

function rangeText(s: { min?: number; max?: number }): string {
  if (s.min !== undefined && s.max !== undefined) return `[${s.min}, ${s.max}]`;
  if (s.min !== undefined) return `>= ${s.min}`;
  if (s.max !== undefined) return `<= ${s.max}`;
  return "";
}

/** Settings of {@linkcode opt.int} and {@linkcode opt.number}. */
export interface NumberSettings extends ValueSettings {
  min?: number;
  max?: number;
}

function numberOption(
  description: string,
  s: NumberSettings & { default?: number },
  int: boolean,
): AnyOption {
  const range = rangeText(s);
  return valued(description, {
    ...s,
    type: `${int ? "int" : "number"}${range ? (s.max === undefined ? " " : " in ") + range : ""}`,
    parse: (t) => parseNumber(t, { int, min: s.min, max: s.max }),
  }, int ? "n" : "x");
}

function string(description: string, s: WithDefault<ValueSettings, string>): Option<string>;
function string(description: string, s?: ValueSettings): Option<string | undefined>;
function string(description: string, s: ValueSettings & { default?: string } = {}): AnyOption {
  return valued(description, { ...s, type: "string", parse: (t) => t }, "text");
}

function int(description: string, s: WithDefault<NumberSettings, number>): Option<number>;
function int(description: string, s?: NumberSettings): Option<number | undefined>;
function int(description: string, s: NumberSettings & { default?: number } = {}): AnyOption {
  return numberOption(description, s, true);
}

function number(description: string, s: WithDefault<NumberSettings, number>): Option<number>;
function number(description: string, s?: NumberSettings): Option<number | undefined>;
function number(description: string, s: NumberSettings & { default?: number } = {}): AnyOption {
  return numberOption(description, s, false);
}

function choice<const V extends readonly string[]>(
  values: V,
  description: string,
  s: WithDefault<ValueSettings, V[number]>,
): Option<V[number]>;
function choice<const V extends readonly string[]>(
  values: V,
  description: string,
  s?: ValueSettings,
): Option<V[number] | undefined>;
function choice(
  values: readonly string[],
  description: string,
  s: ValueSettings & { default?: string } = {},
): AnyOption {
  return valued(description, {
    ...s,
    type: values.join("|"),
    parse: (t) => {
      if (!values.includes(t)) {
        throw new Error(`expected one of ${values.join(", ")}, got ${quoted(t)}`);
      }
      return t;
    },
  }, values.join("|"));
}

/** Settings of {@linkcode opt.custom}: how to show the type and how to parse a value. */
export interface CustomSettings<T> extends ValueSettings {
  /** The type as `--help` shows it. */
  type: string;
  /** Text to value; throw an Error saying what was expected. */
  parse: (text: string) => T;
  /** Repeatable: `parse` returns an array, and the arrays of all occurrences are concatenated. */
  multiple?: boolean;
}

function name(description: string, s: WithDefault<ValueSettings, string>): Option<string>;
function name(description: string, s?: ValueSettings): Option<string | undefined>;
function name(description: string, s: ValueSettings & { default?: string } = {}): AnyOption {
  return valued(description, {
    ...s,
    type: "letters, digits, _ . -",
    parse: (t) => {
      if (!/^[A-Za-z0-9_.-]+$/.test(t) || t === "." || t === "..") {
        throw new Error(`expected letters, digits, _ . - only, got ${quoted(t)}`);
      }
      return t;
    },
  }, "name");
}

function custom<T>(description: string, s: WithDefault<CustomSettings<T>, T>): Option<T>;
function custom<T>(description: string, s: CustomSettings<T>): Option<T | undefined>;
function custom<T>(description: string, s: CustomSettings<T> & { default?: T }): AnyOption {
  return valued(description, s, "value");
}

function schema<T>(
  zodSchema: z.ZodType<T>,
  description: string,
  s: WithDefault<ValueSettings & { type: string }, T>,
): Option<T>;
function schema<T>(
  zodSchema: z.ZodType<T>,
  description: string,
  s: ValueSettings & { type: string },
): Option<T | undefined>;
function schema<T>(
  zodSchema: z.ZodType<T>,
  description: string,
  s: ValueSettings & { type: string; default?: T },
): AnyOption {
  return valued(description, {
    ...s,
    parse: (t) => {
      const r = zodSchema.safeParse(t);
      if (!r.success) throw new Error(`${r.error.issues[0].message}, got ${quoted(t)}`);
      return r.data;
    },
  }, "value");
}

/**
 * Builders of options. Each returns an {@linkcode Option} whose value type follows from the
 * settings: with a `default` or `required: true` the value is always there, else it may be
 * `undefined`.
 *
 * @example
 * ```ts
 * import { opt } from "./args.ts";
 * const options = {
 *   profile: opt.string("profile name or JSON file", { default: "quick" }),
 *   jobs: opt.int("worker processes", { min: 1, defaultText: "one per core" }),
 *   backend: opt.choice(["wasm", "cpu"] as const, "TF.js backend", { default: "wasm" }),
 *   with: opt.list("extra predictions, LABEL=file", { arg: "LABEL=file" }),
 *   "dry-run": opt.flag("list the units and stop"),
 * };
 * ```
 */
export const opt = {
  /** A boolean flag, false unless given. */
  flag(description: string, s: { short?: string; hidden?: boolean } = {}): Option<boolean> {
    return {
      kind: "boolean",
      description,
      arg: "",
      type: "flag",
      short: s.short,
      hidden: s.hidden,
      fallback: false,
      parse: () => true,
    };
  },
  /** Any text. */
  string,
  /** An integer, optionally within [min, max]. */
  int,
  /** A finite number, optionally within [min, max]. */
  number,
  /** One of a fixed list of names. */
  choice,
  /** A file or folder name (letters, digits, `_ . -`), e.g. a run under `results/`. */
  name,
  /** A value with its own parser (e.g. `i/n` for a shard). */
  custom,
  /** A value validated (and transformed) by a zod schema over the text. */
  schema,
  /** A repeatable text option, collected into an array (empty when absent). */
  list(description: string, s: { arg?: string; hidden?: boolean } = {}): Option<string[]> {
    return {
      kind: "string",
      description: `${description} (repeatable)`,
      arg: s.arg ?? "text",
      type: "string",
      multiple: true,
      hidden: s.hidden,
      fallback: [],
      parse: (t) => [t],
    };
  },
};

/**
 * Declares a task: adds `--help`/`-h` to its options and checks the declaration.
 *
 * @example
 * ```ts
 * import { defineTask, opt } from "./args.ts";
 * const TASK = defineTask({
 *   name: "bench:load",
 *   description: "times loading all sites cold and from the Parquet cache",
 *   options: { repeat: opt.int("cached loads", { default: 3, min: 1 }) },
 *   examples: ["deno task bench:load --repeat 5"],
 * });
 * ```
 */
export function defineTask<O extends Options>(spec: TaskSpec<O>): TaskSpec<O> {
  if (spec.examples.length === 0) throw new Error(`task ${spec.name}: give at least one example`);
  if ("help" in spec.options) throw new Error(`task ${spec.name}: --help is built in`);
  if (spec.description.includes("\n")) throw new Error(`task ${spec.name}: one-line description`);
  return spec;
}

function flagText(name: string, o: AnyOption): string {
  return o.kind === "boolean" ? `--${name}` : `--${name} <${o.arg}>`;
}

/**
 * The usage line: `deno task NAME --required <x> [--optional <y>] ...`.
 *
 * @example
 * ```ts
 * import { defineTask, opt, usageLine } from "./args.ts";
 * const t = defineTask({
 *   name: "x", description: "d", examples: ["deno task x"],
 *   options: { n: opt.int("count", { default: 1 }) },
 * });
 * usageLine(t); // "Usage: deno task x [--n <n>]"
 * ```
 */
export function usageLine<O extends Options>(spec: TaskSpec<O>): string {
  const parts = Object.entries(spec.options).filter(([, o]) => !o.hidden).map(([name, o]) =>
    o.required ? flagText(name, o) : `[${flagText(name, o)}]${o.multiple ? "..." : ""}`
  );
  return `Usage: deno task ${spec.name}${parts.length ? " " + parts.join(" ") : ""}`;
}

/**
 * The full `--help` text: description, usage, options (type, default), notes, examples.
 *
 * @example
 * ```ts
 * import { defineTask, helpText, opt } from "./args.ts";
 * const t = defineTask({
 *   name: "x", description: "does x", examples: ["deno task x --n 2"],
 *   options: { n: opt.int("count", { default: 1 }) },
 * });
 * helpText(t).split("\n")[0]; // "deno task x: does x"
 * ```
 */
export function helpText<O extends Options>(spec: TaskSpec<O>): string {
  const rows: [string, string][] = [];
  for (const [name, o] of Object.entries(spec.options)) {
    if (o.hidden) continue;
    const short = o.short ? `-${o.short}, ` : "";
    const facts = [o.kind === "boolean" ? "flag" : o.type];
    if (o.required) facts.push("required");
    else if (o.defaultText !== undefined) facts.push(`default: ${o.defaultText}`);
    rows.push([`${short}${flagText(name, o)}`, `${o.description} [${facts.join("; ")}]`]);
  }
  rows.push(["-h, --help", "this help"]);
  const width = Math.min(30, Math.max(...rows.map(([f]) => f.length)));
  const lines = [
    `deno task ${spec.name}: ${spec.description}`,
    "",
    usageLine(spec),
    "",
    "Options:",
    ...rows.map(([f, d]) => {
      const indent = " ".repeat(width + 4);
      const text = wrap(d, HELP_WIDTH - indent.length).join(`\n${indent}`);
      return f.length > width ? `  ${f}\n${indent}${text}` : `  ${f.padEnd(width)}  ${text}`;
    }),
  ];
  for (const note of spec.notes ?? []) lines.push("", note);
  lines.push("", "Examples:", ...spec.examples.map((e) => `  ${e}`));
  return lines.join("\n");
}

/** Column at which `--help` wraps option descriptions. */
const HELP_WIDTH = 100;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/** The outcome of {@linkcode parseTaskArgs}. */
export type ParseResult<O extends Options> =
  | { kind: "values"; values: Values<O> }
  | { kind: "help"; text: string }
  | { kind: "usage"; message: string };

/**
 * Parses a command line against a task's options without printing or exiting.
 *
 * @example
 * ```ts
 * import { defineTask, opt, parseTaskArgs } from "./args.ts";
 * const t = defineTask({
 *   name: "x", description: "d", examples: ["deno task x"],
 *   options: { jobs: opt.int("workers", { min: 1 }) },
 * });
 * parseTaskArgs(t, ["--jobs", "abc"]);
 * // { kind: "usage", message: '--jobs: expected an integer, got "abc"' }
 * ```
 */
export function parseTaskArgs<O extends Options>(
  spec: TaskSpec<O>,
  args: readonly string[],
): ParseResult<O> {
  const config: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> =
    { help: { type: "boolean", short: "h" } };
  for (const [name, o] of Object.entries(spec.options)) {
    config[name] = {
      type: o.kind,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  let raw: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let positionals: string[];
  const joined = joinNegativeValues(spec, args);
  try {
    ({ values: raw, positionals } = parseArgs({
      args: joined,
      options: config,
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    // a bad declaration is the programmer's error, not the user's
    if (!String((error as { code?: string }).code).startsWith("ERR_PARSE_ARGS")) throw error;
    return { kind: "usage", message: parseArgsMessage(error as Error, joined) };
  }
  if (raw.help) return { kind: "help", text: helpText(spec) };
  if (positionals.length > 0) {
    return { kind: "usage", message: `unexpected argument ${quoted(positionals[0])}` };
  }
  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const given = raw[name];
    if (given === undefined) {
      if (o.required) return { kind: "usage", message: `--${name} is required` };
      values[name] = Array.isArray(o.fallback) ? [...o.fallback] : o.fallback;
      continue;
    }
    try {
      if (o.kind === "boolean") values[name] = true;
      else if (o.multiple) values[name] = (given as string[]).flatMap((t) => o.parse(t));
      else values[name] = o.parse(given as string);
    } catch (error) {
      return { kind: "usage", message: `--${name}: ${(error as Error).message}` };
    }
  }
  return { kind: "values", values: values as Values<O> };
}

/**
 * `--seed -1` as `--seed=-1`: node:util's parseArgs takes a value that starts with a dash for an
 * option ("argument is ambiguous"); a negative number after a valued option is its value, which
 * the option's own check then accepts or refuses with a message naming the range.
 */
function joinNegativeValues<O extends Options>(
  spec: TaskSpec<O>,
  args: readonly string[],
): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i], next = args[i + 1];
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    const option = a.startsWith("--") ? spec.options[a.slice(2)] : undefined;
    if (option?.kind === "string" && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** node:util's messages, shortened to name the flag. */
function parseArgsMessage(error: Error, args: readonly string[]): string {
  const m = error.message;
  const ambiguous = /Option '(-\w, )?(--[^ ']+)[^']*' argument is ambiguous/.exec(m);
  if (ambiguous) {
    const flag = ambiguous[2];
    const value = args[args.indexOf(flag) + 1] ?? "";
    return `${flag} needs a value, got the option-like ${quoted(value)} (for a value that ` +
      `starts with a dash write ${flag}=${value})`;
  }
  const unknown = /Unknown option '([^']+)'/.exec(m);
  if (unknown) return `unknown option ${unknown[1]}`;
  const missing = /Option '(-\w, )?(--[^ ']+)[^']*' argument missing/.exec(m);
  if (missing) return `${missing[2]} needs a value`;
  const noArg = /Option '(-\w, )?(--[^ ']+)' does not take an argument/.exec(m);
  if (noArg) return `${noArg[2]} takes no value`;
  return m.split("\n")[0].split(". To specify")[0];
}

/** Options of {@linkcode cli}. */
export interface CliOptions {
  /** The command line (default `Deno.args`). */
  args?: readonly string[];
  /**
   * Print and exit on `--help` (0) and usage errors (2), and make unhandled errors of the rest
   * of the program print one line and exit 1 (default true). With false, `--help` and usage
   * errors throw a {@linkcode UsageError} instead (for tests).
   */
  exit?: boolean;
}

/**
 * True when `TAMFLUX_DEBUG=1` asks for stack traces.
 *
 * @example
 * ```ts
 * import { debugEnabled } from "./args.ts";
 * if (debugEnabled()) console.error(new Error("where").stack);
 * ```
 */
export function debugEnabled(): boolean {
  try {
    return Deno.env.get("TAMFLUX_DEBUG") === "1";
  } catch {
    return false;
  }
}

/**
 * The one line printed for an error in a task's work: the message's first line (our errors and
 * Deno's file errors name the file), or the whole stack with `TAMFLUX_DEBUG=1`.
 *
 * @example
 * ```ts
 * import { errorLine } from "./args.ts";
 * errorLine("tables", new Error("results/x: no finished units")); // "tables: results/x: no finished units"
 * ```
 */
export function errorLine(task: string, error: unknown): string {
  if (debugEnabled() && error instanceof Error && error.stack) return `${task}: ${error.stack}`;
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split("\n").find((l) => l.trim() !== "") ?? String(error);
  const hint = error instanceof Error && error.name === "NotCapable"
    ? " (a permission this task's deno.json entry does not grant)"
    : "";
  return `${task}: ${first.trim()}${hint}`;
}

let installed = false;

/**
 * Makes unhandled errors and rejections print {@linkcode errorLine} and exit 1 (or 2); {@linkcode cli}
 * installs it.
 *
 * @example
 * ```ts ignore
 * import { installErrorHandler } from "./args.ts";
 * installErrorHandler("tables");
 * await Promise.reject(new Error("results/x: no units")); // prints "tables: results/x: no units", exits 1
 * ```
 */
export function installErrorHandler(task: string): void {
  if (installed) return;
  installed = true;
  const fail = (event: Event, error: unknown) => {
    event.preventDefault();
    console.error(errorLine(task, error));
    Deno.exit(error instanceof UsageError ? 2 : 1);
  };
  globalThis.addEventListener("error", (e) => fail(e, (e as ErrorEvent).error));
  globalThis.addEventListener(
    "unhandledrejection",
    (e) => fail(e, (e as PromiseRejectionEvent).reason),
  );
}

/**
 * Parses the task's command line and returns its typed values; `--help` prints the help and
 * exits 0, a bad command line prints one line and the usage and exits 2, and from then on an
 * unhandled error prints one line and exits 1 (a {@linkcode UsageError} thrown by the task
 * exits 2).
 *
 * @example
 * ```ts
 * import { cli, defineTask, opt } from "./args.ts";
 * const TASK = defineTask({
 *   name: "x", description: "d", examples: ["deno task x --seed 1"],
 *   options: { seed: opt.int("split seed", { default: 42 }) },
 * });
 * const { seed } = cli(TASK, { args: [], exit: false }); // 42
 * ```
 */
export function cli<O extends Options>(spec: TaskSpec<O>, options: CliOptions = {}): Values<O> {
  const exit = options.exit ?? true;
  const result = parseTaskArgs(spec, options.args ?? Deno.args);
  if (result.kind === "values") {
    if (exit) installErrorHandler(spec.name);
    return result.values;
  }
  if (!exit) {
    throw new UsageError(result.kind === "help" ? result.text : result.message);
  }
  if (result.kind === "help") {
    console.log(result.text);
    Deno.exit(0);
  }
  usageError(spec, result.message);
}

/**
 * Prints a usage error found after parsing (e.g. two options that exclude each other) as
 * {@linkcode cli} does, and exits 2.
 *
 * @example
 * ```ts ignore
 * import { usageError } from "./args.ts";
 * usageError(TASK, "--jobs and --shard exclude each other");
 * ```
 */
export function usageError<O extends Options>(spec: TaskSpec<O>, message: string): never {
  console.error(`${spec.name}: ${message}`);
  console.error(usageLine(spec));
  console.error(`(deno task ${spec.name} --help for details)`);
  Deno.exit(2);
}
