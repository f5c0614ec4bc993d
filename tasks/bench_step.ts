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
import { cli, defineTask, opt } from "../lib/cli/mod.ts";
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

const TASK = defineTask({
  name: "bench:step",
  description: "times one TAM-RL training step against the PyTorch reference",
  options: {
    impl: opt.choice(["reference", "fused"] as const, "LSTM implementation", { default: "fused" }),
    case: opt.custom("cases to time, comma-separated", {
      arg: "a,b",
      type: `list of ${BENCH_CASES.join(", ")}`,
      default: [...BENCH_CASES] as BenchCase[],
      parse: (text) => {
        const cases = text.split(",").map((c) => c.trim()).filter((c) => c.length > 0);
        for (const c of cases) {
          if (!(BENCH_CASES as readonly string[]).includes(c)) {
            throw new Error(`unknown case "${c}" (known: ${BENCH_CASES.join(", ")})`);
          }
        }
        return cases as BenchCase[];
      },
      defaultText: BENCH_CASES.join(","),
    }),
    steps: opt.int("timed steps per round", { min: 1, default: 30 }),
    rounds: opt.int("rounds, alternating with the reference", { min: 1, default: 2 }),
    warmup: opt.int("untimed steps first", { min: 0, default: 3 }),
    backend: opt.choice(["wasm", "cpu"] as const, "TF.js backend", { default: "wasm" }),
    "no-torch": opt.flag("skip the PyTorch reference"),
  },
  examples: ["deno task bench:step", "deno task bench:step --case tamrl --steps 10 --no-torch"],
});

const values = cli(TASK);
const { impl, backend, steps, rounds, warmup, case: cases } = values;

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

for (const c of cases) {
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
