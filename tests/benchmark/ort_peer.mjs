// The peer of scripts/benchmark.sh: ONNX Runtime (CPU, onnxruntime-node from
// npm) running the same model, exported to ONNX from the converter's
// TorchScript file, on the same CIFAR-10 test set in the same batches:
// images/s (median of the runs after one warm-up pass) and top-1.
//   node ort_peer.mjs MODEL.onnx test_batch.bin [BATCH] [THREADS] [REPEATS]
import * as ort from "onnxruntime-node";
import { readFileSync } from "fs";
const [model, data, batchArg, threadsArg, repeatsArg] = process.argv.slice(2);
const batch = Number(batchArg || 500), threads = Number(threadsArg || 2), repeats = Number(repeatsArg || 3);
const records = readFileSync(data);
const count = records.length / 3073;
const pixels = new Float32Array(count * 3072), labels = new Uint8Array(count);
for (let i = 0; i < count; ++i) {
  labels[i] = records[i * 3073];
  for (let j = 0; j < 3072; ++j) pixels[i * 3072 + j] = records[i * 3073 + 1 + j];  // planar = NCHW
}
const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all",
});
const input = session.inputNames[0];
async function pass() {
  let correct = 0;
  const start = process.hrtime.bigint();
  for (let first = 0; first < count; first += batch) {
    const n = Math.min(batch, count - first);
    const x = new ort.Tensor("float32", pixels.subarray(first * 3072, (first + n) * 3072), [n, 3, 32, 32]);
    const out = (await session.run({ [input]: x }))[session.outputNames[0]].data;
    for (let i = 0; i < n; ++i) {
      let best = 0;
      for (let c = 1; c < 10; ++c) if (out[i * 10 + c] > out[i * 10 + best]) best = c;
      correct += best === labels[first + i];
    }
  }
  return { rate: count / (Number(process.hrtime.bigint() - start) / 1e9), correct };
}
await pass();  // warm-up
const runs = [];
for (let r = 0; r < repeats; ++r) runs.push(await pass());
runs.sort((a, b) => a.rate - b.rate);
const median = runs[Math.floor(runs.length / 2)];
console.log(JSON.stringify({ ort_version: ort.env.versions?.common ?? "", images_per_second: median.rate,
                             correct: median.correct, threads, batch }));
