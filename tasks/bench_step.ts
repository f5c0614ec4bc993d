/**
 * Times one TAM-RL training step (and a plain LSTM step, and a TAM-RL prediction) with exactly the
 * shapes of `../shared/bench/torch_tamrl_step.py` (B 32, T 30, F 20, S 21, H 128, Z 32, loss on the
 * last 15 days, Adam), median over `--steps` steps after warm-up. When `/usr/bin/python3` can import
 * torch, the PyTorch reference runs in the same command, single-threaded like the wasm backend.
 *
 * Other developers share the machine, so its load drifts: with `--rounds R` (default 2) the
 * reference and ours alternate R times (`--steps` steps each); ours is the median over all our
 * steps, the reference the median of its rounds' medians (its script prints only summaries).
 *
 * Prints one JSON line per case: the reference's keys (`ms_per_step`, `min_ms`, `steps`, shapes)
 * for ours, plus `pytorch` (the reference's line, with the medians of every round), `ratio`
 * (ours / PyTorch, median over median), `ratio_min` (fastest step over fastest step) and the load
 * average before and after.
 *
 * Usage: deno task bench:step [--impl reference|fused] [--case tamrl,lstm,predict] [--steps 30]
 *        [--rounds 2] [--warmup 3] [--backend wasm|cpu] [--no-torch]
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  BENCH_CASES,
  type BenchCase,
  median,
  runTorchReference,
  summarizeSteps,
  timeSteps,
  torchAvailable,
  type TorchResult,
} from "../lib/bench/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    impl: { type: "string", default: "fused" },
    case: { type: "string", default: BENCH_CASES.join(",") },
    steps: { type: "string", default: "30" },
    rounds: { type: "string", default: "2" },
    warmup: { type: "string", default: "3" },
    backend: { type: "string", default: "wasm" },
    "no-torch": { type: "boolean", default: false },
  },
});

function fail(message: string): never {
  console.error(`bench:step: ${message}`);
  Deno.exit(2);
}

function positiveInt(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    fail(`--${name} must be an integer >= ${min}, got "${text}"`);
  }
  return n;
}

const impl = values.impl;
if (impl !== "reference" && impl !== "fused") {
  fail(`--impl must be reference or fused, got "${impl}"`);
}
const backend = values.backend;
if (backend !== "wasm" && backend !== "cpu") {
  fail(`--backend must be wasm or cpu, got "${backend}"`);
}
const steps = positiveInt("steps", values.steps, 1);
const rounds = positiveInt("rounds", values.rounds, 1);
const warmup = positiveInt("warmup", values.warmup, 0);
const cases = values.case.split(",").map((c) => c.trim()).filter((c) => c.length > 0);
for (const c of cases) {
  if (!(BENCH_CASES as readonly string[]).includes(c)) {
    fail(`--case: unknown case "${c}" (known: ${BENCH_CASES.join(", ")})`);
  }
}

function loadAvg(): string {
  try {
    return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  } catch {
    return "n/a";
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const torch = values["no-torch"] ? { ok: false, reason: "--no-torch" } : await torchAvailable();
if (!torch.ok) console.error(`bench:step: PyTorch reference skipped: ${torch.reason}`);

for (const c of cases as BenchCase[]) {
  const loadBefore = loadAvg();
  const options = { case: c, impl, steps, warmup, backend } as const;
  const refs: TorchResult[] = [];
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (torch.ok) refs.push(await runTorchReference(c, steps));
    times.push(...await timeSteps(options));
  }
  const ours = summarizeSteps(times, options);
  const line: Record<string, unknown> = { ...ours };
  if (refs.length > 0) {
    const msPerStep = round2(median(refs.map((r) => r.ms_per_step)));
    const minMs = Math.min(...refs.map((r) => r.min_ms));
    line.pytorch = {
      ...refs[0],
      ms_per_step: msPerStep,
      min_ms: minMs,
      steps: refs.reduce((n, r) => n + r.steps, 0),
      rounds_ms_per_step: refs.map((r) => r.ms_per_step),
    };
    line.ratio = round2(ours.ms_per_step / msPerStep);
    line.ratio_min = round2(ours.min_ms / minMs);
  }
  line.load = { before: loadBefore, after: loadAvg() };
  console.log(JSON.stringify(line));
}
