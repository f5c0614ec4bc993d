/**
 * Benchmarks of the training step: tamflux's TF.js step timed with the shapes of the PyTorch
 * reference, and the PyTorch reference itself.
 *
 * @example
 * ```ts ignore
 * import { benchStep, runTorchReference } from "./mod.ts";
 * const ours = await benchStep({ case: "tamrl", impl: "fused", steps: 20 });
 * const torch = await runTorchReference("tamrl", 20);
 * console.log(ours.ms_per_step / torch.ms_per_step);
 * ```
 *
 * @module
 */
export * from "./step_bench.ts";
export * from "./torch_ref.ts";
