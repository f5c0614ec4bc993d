/**
 * The `tamrl` model: the FiLM decoder of `tamlstm.ts` on xDyn, conditioned on the task embedding z
 * that the encoder (`encoder.ts`) computes from the site's K support windows.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { encoderWidth, type ModelConfig } from "./config.ts";
import { addEncoder, encodeSupport } from "./encoder.ts";
import { VariableStore } from "./layers.ts";
import { checkDims, createFluxModel } from "./model_base.ts";
import { addFilmDecoder, filmDecoderForward } from "./tamlstm.ts";
import type { FluxModel, ModelDims } from "./types.ts";

/**
 * Build the `tamrl` model. `apply` needs `input.support` `[B, K, T', F + S]`; `embed(support)`
 * returns z `[B, Z]`.
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
  const store = new VariableStore(options.seed);
  const encoder = addEncoder(store, {
    nIn: dims.nDyn + dims.nStatic,
    hidden: encoderWidth(config),
    latent: config.latent,
    leakySlope: config.leakySlope,
  });
  const decoder = addFilmDecoder(store, { nIn: dims.nDyn, nCond: config.latent }, config);
  const impl = config.lstmImpl;
  return createFluxModel({
    name: "tamrl",
    config,
    dims,
    store,
    needsSupport: true,
    forward: (input, context) => {
      const z = encodeSupport(input.support as tf.Tensor4D, encoder, { impl });
      return filmDecoderForward(input.xDyn, z, decoder, { impl, context });
    },
    embed: (support) => encodeSupport(support, encoder, { impl }),
  });
}
