/**
 * The `tamrl` model: the FiLM decoder of `tamlstm.ts` on xDyn, conditioned on the task embedding z
 * that the encoder (`encoder.ts`) computes from the site's K support windows.
 *
 * Options of the model config (`tamrlOptions`): `encoderStatic: false` shows the encoder only the
 * first F (dynamic) columns of each support window (its input Linear is then F -> He, and the
 * model reads no static descriptor); `zNoise` (Gaussian std) and `zDropout` (inverted dropout) act
 * on z only when training, seeded from the `apply` seed like the decoder's dropout. A z given in
 * `input.z` (the pooled z of `inferenceSupport: "all"`) replaces the encoder.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { encoderWidth, type ModelConfig, type TamRlOptions, tamrlOptions } from "./config.ts";
import { addEncoder, encodeSupport } from "./encoder.ts";
import { dropout, VariableStore } from "./layers.ts";
import { checkDims, createFluxModel, type ForwardContext } from "./model_base.ts";
import { addFilmDecoder, filmDecoderForward } from "./tamlstm.ts";
import type { FluxModel, ModelDims } from "./types.ts";

/**
 * z as the decoder sees it: when training, plus Gaussian noise of std `zNoise` (seed "z/noise"),
 * then inverted dropout at rate `zDropout` (seed "z/dropout"); otherwise (and with both 0) `z`
 * itself, untouched.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { regularizeZ } from "./tamrl.ts";
 * const context = { training: true, dropout: <T extends tf.Tensor>(x: T) => x, seed: () => 1 };
 * const z = regularizeZ(tf.zeros([2, 4]), { zNoise: 0.1, zDropout: 0 }, context); // noisy zeros
 * ```
 */
export function regularizeZ(
  z: tf.Tensor2D,
  options: Pick<TamRlOptions, "zNoise" | "zDropout">,
  context: ForwardContext,
): tf.Tensor2D {
  if (!context.training) return z;
  let out = z;
  if (options.zNoise > 0) {
    const noise = tf.randomNormal(z.shape, 0, options.zNoise, "float32", context.seed("z/noise"));
    out = tf.add(out, noise);
  }
  return dropout(out, options.zDropout, { training: true, seed: context.seed("z/dropout") });
}

/**
 * Build the `tamrl` model. `apply` needs `input.support` `[B, K, T', F + S]` (or a ready `input.z`
 * `[B, Z]`); `embed(support)` returns z `[B, Z]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { parseModelConfig } from "./config.ts";
 * import { createTamRl } from "./tamrl.ts";
 * const model = createTamRl(parseModelConfig({ name: "tamrl", hidden: 8, latent: 4 }), { nDyn: 5, nStatic: 3 }, { seed: 1 });
 * const z = model.embed!(tf.ones([2, 3, 10, 8]) as tf.Tensor4D);
 * console.log(z.shape); // [2, 4]
 * model.dispose();
 * ```
 */
export function createTamRl(
  config: ModelConfig,
  dims: ModelDims,
  options: { seed: number },
): FluxModel {
  checkDims(dims, "tamrl");
  const tam = tamrlOptions(config);
  const store = new VariableStore(options.seed);
  const encoder = addEncoder(store, {
    nIn: tam.encoderStatic ? dims.nDyn + dims.nStatic : dims.nDyn,
    hidden: encoderWidth(config),
    latent: config.latent,
    leakySlope: config.leakySlope,
  });
  const decoder = addFilmDecoder(store, { nIn: dims.nDyn, nCond: config.latent }, config);
  const impl = config.lstmImpl;
  // the encoder's view of the support windows: all F + S columns, or the first F
  const encode = (support: tf.Tensor4D) =>
    encodeSupport(
      tam.encoderStatic ? support : tf.slice(support, [0, 0, 0, 0], [-1, -1, -1, dims.nDyn]),
      encoder,
      { impl },
    );
  return createFluxModel({
    name: "tamrl",
    config,
    dims,
    store,
    needsSupport: true,
    forward: (input, context) => {
      const z = regularizeZ(input.z ?? encode(input.support as tf.Tensor4D), tam, context);
      return filmDecoderForward(input.xDyn, z, decoder, { impl, context });
    },
    embed: encode,
  });
}
