// Run an original TensorFlow.js graph model on a raw float32 input tensor and
// write every output tensor to JSON. Used once by a developer to produce the
// reference numbers of the ONNX conversion-faithfulness test
// (tests/models/tfjs_reference.json); never needed at run time.
//
// usage: node tfjs_reference.mjs MODEL_JSON INPUT_BIN DIMS OUT_JSON
//   MODEL_JSON  path of the TFJS model.json (its weight shards beside it)
//   INPUT_BIN   raw little-endian float32 tensor, e.g. from tools/make_reference.py
//   DIMS        comma-separated input shape, e.g. 1,3,416,416
//   OUT_JSON    where to write {"backend", "tfjs", "outputs": {name: {shape, data}}}
//
// Uses the pure-JavaScript CPU backend of @tensorflow/tfjs (no native code).
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

const [modelJson, inputBin, dimsText, outJson] = process.argv.slice(2);
if (!outJson) {
  console.error('usage: node tfjs_reference.mjs MODEL_JSON INPUT_BIN DIMS OUT_JSON');
  process.exit(2);
}

// A tf.io.IOHandler that reads model.json and its shards from the local disk.
const fileHandler = {
  async load() {
    const doc = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
    const specs = [];
    const buffers = [];
    for (const group of doc.weightsManifest) {
      specs.push(...group.weights);
      for (const shard of group.paths) buffers.push(fs.readFileSync(path.join(path.dirname(modelJson), shard)));
    }
    const all = Buffer.concat(buffers);
    const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
    return {
      modelTopology: doc.modelTopology,
      format: doc.format,
      generatedBy: doc.generatedBy,
      convertedBy: doc.convertedBy,
      signature: doc.signature,
      userDefinedMetadata: doc.userDefinedMetadata,
      weightSpecs: specs,
      weightData,
    };
  },
};

await tf.setBackend('cpu');
const model = await tf.loadGraphModel(fileHandler);
const dims = dimsText.split(',').map(Number);
const raw = fs.readFileSync(inputBin);
const data = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const input = tf.tensor(data, dims, 'float32');
const names = model.outputs.map((o) => o.name);
const result = await model.executeAsync(input, names);
const tensors = Array.isArray(result) ? result : [result];
const outputs = {};
for (let i = 0; i < names.length; i += 1) {
  outputs[names[i]] = { shape: tensors[i].shape, data: Array.from(await tensors[i].data()) };
}
fs.writeFileSync(outJson, JSON.stringify({ backend: tf.getBackend(), tfjs: tf.version.tfjs, outputs }));
console.log(`wrote ${names.length} outputs to ${outJson}`);
