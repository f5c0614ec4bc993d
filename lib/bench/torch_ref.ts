/**
 * Run the PyTorch reference timings (Debian's `/usr/bin/python3` with `python3-torch`): the shared
 * `../shared/bench/torch_tamrl_step.py` for the TAM-RL step, and `lib/bench/torch_step.py` for the
 * plain LSTM step and the prediction.
 *
 * @module
 */
import { resolve } from "node:path";
import { z } from "zod";
import { PROJECT_ROOT } from "../data/paths.ts";
import type { BenchCase } from "./step_bench.ts";

/** The JSON line the PyTorch scripts print. */
export const TorchResultSchema = z.object({
  impl: z.string(),
  threads: z.number(),
  ms_per_step: z.number(),
  min_ms: z.number(),
  steps: z.number(),
  B: z.number(),
  T: z.number(),
  F: z.number(),
  S: z.number(),
  H: z.number(),
  Z: z.number(),
});

/** A parsed PyTorch timing. */
export type TorchResult = z.output<typeof TorchResultSchema>;

/** The python interpreter with torch (Debian's, not a pyenv shim on PATH). */
export const TORCH_PYTHON = "/usr/bin/python3";

/** The script and its arguments for a bench case. */
export function torchCommand(which: BenchCase, steps: number): string[] {
  if (which === "tamrl") {
    return [
      resolve(PROJECT_ROOT, "..", "shared", "bench", "torch_tamrl_step.py"),
      String(steps),
      "1",
    ];
  }
  return [resolve(PROJECT_ROOT, "lib", "bench", "torch_step.py"), which, String(steps), "1"];
}

/**
 * Whether `/usr/bin/python3` can import torch; the reason when it cannot.
 *
 * @example
 * ```ts ignore
 * import { torchAvailable } from "./torch_ref.ts";
 * console.log(await torchAvailable());
 * ```
 */
export async function torchAvailable(): Promise<{ ok: boolean; reason: string }> {
  try {
    const out = await new Deno.Command(TORCH_PYTHON, {
      args: ["-c", "import torch; print(torch.__version__)"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.success) return { ok: true, reason: new TextDecoder().decode(out.stdout).trim() };
    return {
      ok: false,
      reason: `${TORCH_PYTHON} cannot import torch (apt-get install python3-torch)`,
    };
  } catch (error) {
    return { ok: false, reason: `${TORCH_PYTHON} not runnable: ${(error as Error).message}` };
  }
}

/**
 * Run the PyTorch reference of a bench case (single-threaded) and parse its JSON line.
 *
 * @example
 * ```ts ignore
 * import { runTorchReference } from "./torch_ref.ts";
 * const ref = await runTorchReference("tamrl", 30);
 * console.log(ref.ms_per_step);
 * ```
 */
export async function runTorchReference(which: BenchCase, steps: number): Promise<TorchResult> {
  const args = torchCommand(which, steps);
  const out = await new Deno.Command(TORCH_PYTHON, {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${args[0]} failed (exit ${out.code}): ${stderr.slice(-500)}`);
  }
  const line = stdout.split("\n").filter((l) => l.trim().startsWith("{")).pop();
  if (line === undefined) throw new Error(`${args[0]} printed no JSON line: ${stdout.slice(-300)}`);
  const parsed = TorchResultSchema.safeParse(JSON.parse(line));
  if (!parsed.success) throw new Error(`${args[0]}: unexpected output ${line}`);
  return parsed.data;
}
