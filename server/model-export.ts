// The global model in TensorFlow.js's own format, so anyone can load it with
// tf.loadLayersModel('http://<coordinator>/api/model/model.json').
import * as tf from '@tensorflow/tfjs';
import type { ModelName } from '../shared/model-spec.ts';
import { buildModel, writeFlatWeights } from '../shared/models.ts';

export const WEIGHTS_FILE = 'weights.bin';

export interface ExportedModel {
  modelJson: object;
  weightData: ArrayBuffer;
}

export async function exportModel(name: ModelName, weights: Float32Array): Promise<ExportedModel> {
  const model = buildModel(tf, name);
  try {
    writeFlatWeights(tf, model, weights);
    let exported: ExportedModel | null = null;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const weightData = artifacts.weightData;
        if (!(weightData instanceof ArrayBuffer)) throw new Error('expected the weights in one buffer');
        exported = {
          modelJson: {
            format: 'layers-model',
            generatedBy: `Flock (TensorFlow.js ${tf.version.tfjs})`,
            convertedBy: null,
            modelTopology: artifacts.modelTopology,
            weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
          },
          weightData,
        };
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    if (!exported) throw new Error('tfjs did not hand over the model artifacts');
    return exported;
  } finally {
    model.dispose();
  }
}
