#!/usr/bin/env node
// Makes the reference fixture of one of nsfwjs's networks with the ORIGINAL
// model under TensorFlow.js, and writes the model in the standard TF.js
// layers-model format (model.json + binary weight shards) that
// `gigagan convert-tfjs` reads.
//
// The models are nsfwjs 4.4.0's bundled Keras 2.2.4 networks (MIT, Infinite
// Red), initialised from ImageNet and fine-tuned with a 256-128-5 dense head
// on 5 classes (Drawing, Hentai, Neutral, Porn, Sexy):
//   MobileNetV2 (alpha 1.0, 224 px; blocks 11-16 and Conv_1 fine-tuned),
//   InceptionV3 (299 px).
// nsfwjs ships them inside JavaScript bundles (model.min.js,
// group1-shard<i>of<n>.min.js: base64 of the uint8-quantised weights); this
// script takes them from the nsfwjs package as nsfwjs itself does.
//
// Rerun (node 18+, the npm registry; nothing is installed into the repo):
//   mkdir -p /tmp/tfjsenv && cd /tmp/tfjsenv && npm init -y >/dev/null
//   npm install @tensorflow/tfjs@4.22.0 nsfwjs@4.4.0
//   NODE_PATH=/tmp/tfjsenv/node_modules node scripts/make_nsfwjs_fixture.js MobileNetV2 \
//       tests/data/mobilenet_v2_nsfwjs.json /tmp/mobilenet_v2_tfjs
//   build/app/gigagan convert-tfjs --model-json /tmp/mobilenet_v2_tfjs/model.json \
//       --out resources/models/mobilenet_v2/mobilenet_v2_nsfwjs.safetensors
//   NODE_PATH=/tmp/tfjsenv/node_modules node scripts/make_nsfwjs_fixture.js InceptionV3 \
//       tests/data/inception_v3_nsfwjs.json /tmp/inception_v3_tfjs
//   build/app/gigagan convert-tfjs --quantized --model-json /tmp/inception_v3_tfjs/model.json \
//       --out resources/models/inception_v3/inception_v3_nsfwjs.safetensors
// The fixtures are deterministic (pure-JS cpu backend, integer test images).
//
// Test images: two SIZE x SIZE RGB images of integers 0..255 (NHWC), made by
// fixture_pixel() below; tests/model/test_mobilenet.cpp and
// test_inception.cpp make the same ones. The model input is pixel / 255, as
// nsfwjs's NSFWJS.infer.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const nsfwjs = require('nsfwjs');

// Per model: its bundle, input side, the layer of pooled features, and the
// intermediate blocks whose per-channel means the fixture also keeps.
const MODELS = {
  MobileNetV2: {bundle: () => require('nsfwjs/models/mobilenet_v2').MobileNetV2Model, size: 224, blocks: []},
  InceptionV3: {
    bundle: () => require('nsfwjs/models/inception_v3').InceptionV3Model,
    size: 299,
    blocks: ['mixed2', 'mixed7'],
  },
};
let SIZE = 224;

// Pixel n (image), y, x, c: gradients, an XOR texture and a checkerboard of
// 16 px squares, all in integer arithmetic (exact in JS and C++).
function fixturePixel(n, y, x, c) {
  if (n === 0) return (x * (c + 1) + 2 * y + ((x ^ y) & 31) + 40 * c) % 256;
  const checker = (((x >> 4) + (y >> 4)) & 1) * 96;
  return (checker + ((x * y) >> 6) + 53 * c + 3 * (x >> 2) * (c === 1 ? 1 : 0)) % 256;
}

function fixtureImages() {
  const data = new Int32Array(2 * SIZE * SIZE * 3);
  let i = 0;
  for (let n = 0; n < 2; ++n)
    for (let y = 0; y < SIZE; ++y)
      for (let x = 0; x < SIZE; ++x)
        for (let c = 0; c < 3; ++c) data[i++] = fixturePixel(n, y, x, c);
  return tf.tensor4d(data, [2, SIZE, SIZE, 3], 'int32');
}

// Writes model.json + the binary shards that nsfwjs bundles as base64 (its
// loaders resolve to modules whose default export is the JSON object or the
// base64 string of shard i, named group1-shard<i+1>of<n> as nsfwjs names them).
async function writeTfjsModel(def, dir) {
  fs.mkdirSync(dir, {recursive: true});
  const json = (await def.modelJson()).default;
  const n = def.numOfWeightBundles;
  const paths = [].concat(...json.weightsManifest.map((g) => g.paths));
  for (let i = 0; i < n; ++i) {
    const name = 'group1-shard' + (i + 1) + 'of' + n;
    if (!paths.includes(name)) throw new Error('model.json does not list shard ' + name);
    const b64 = (await def.weightBundles[i]()).default;
    fs.writeFileSync(path.join(dir, name), Buffer.from(b64, 'base64'));
  }
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
}

const f9 = (v) => Number(Math.fround(v).toPrecision(9));

async function main() {
  const [name, out, tfjsDir] = process.argv.slice(2);
  if (!out || !MODELS[name]) {
    console.error('usage: make_nsfwjs_fixture.js MobileNetV2|InceptionV3 FIXTURE.json [TFJS_MODEL_DIR]');
    process.exit(2);
  }
  const spec = MODELS[name];
  const def = spec.bundle();
  SIZE = spec.size;
  await tf.setBackend('cpu');
  if (tfjsDir) await writeTfjsModel(def, tfjsDir);
  const model = await nsfwjs.load(name, {size: SIZE, modelDefinitions: [def]});
  const keras = model.model;  // tf.LayersModel
  const pooledLayer = keras.getLayer('flatten_1');
  const dense2 = keras.getLayer('dense_2');
  const blockOutputs = spec.blocks.map((b) => keras.getLayer(b).output);
  const sub = tf.model({inputs: keras.inputs, outputs: [pooledLayer.output, dense2.output, ...blockOutputs]});

  const images = fixtureImages();
  const x = images.toFloat().div(tf.scalar(255));  // NSFWJS.infer's normalisation
  const [pooled, hidden, ...blocks] = sub.predict(x);
  // dense_3 is softmax(h W + b); its logits are computed from its own weights.
  const [kernel, bias] = keras.getLayer('dense_3').getWeights();
  const logits = tf.add(tf.matMul(hidden, kernel), bias);
  const probs = keras.predict(x);
  // Also through nsfwjs's own entry point, image by image.
  const inferred = [];
  for (let n = 0; n < 2; ++n) {
    const img = images.slice([n, 0, 0, 0], [1, SIZE, SIZE, 3]).reshape([SIZE, SIZE, 3]);
    inferred.push(Array.from(await model.infer(img).data()));
  }
  const probsArr = await probs.array();
  for (let n = 0; n < 2; ++n)
    for (let k = 0; k < 5; ++k)
      if (Math.abs(probsArr[n][k] - inferred[n][k]) > 1e-6) throw new Error('infer() and predict() disagree');

  const rows = (t) => t.arraySync().map((r) => r.map(f9));
  const shards = def.numOfWeightBundles === 1 ? 'group1-shard1of1.min.js'
                                               : 'group1-shard1..' + def.numOfWeightBundles + 'of' +
                                                     def.numOfWeightBundles + '.min.js';
  const fixture = {
    source: 'nsfwjs@4.4.0 ' + name + ' (model.min.js + ' + shards + '), @tensorflow/tfjs@' +
            tf.version.tfjs + ' backend ' + tf.getBackend(),
    made_by: 'scripts/make_nsfwjs_fixture.js ' + name,
    input: 'two ' + SIZE + 'x' + SIZE + 'x3 images of integers 0..255 from fixture_pixel (see the script), divided by 255',
    classes: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'],
    pooled: rows(pooled),  // [2, C]: flatten_1 (average pool of the last block over its grid)
    logits: rows(logits),  // [2, 5]: dense_3 before softmax
    probs: rows(probs),    // [2, 5]: the model's output
  };
  // [2, C_b]: the mean over the grid of each named block's output.
  spec.blocks.forEach((b, i) => { fixture[b + '_mean'] = rows(blocks[i].mean([1, 2])); });
  fs.writeFileSync(out, JSON.stringify(fixture) + '\n');
  console.log('wrote', out, 'probs', JSON.stringify(fixture.probs));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
