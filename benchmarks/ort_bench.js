#!/usr/bin/env node
// ort_bench.js: times one model on onnxruntime-node (CPU execution provider).
//
//   node benchmarks/ort_bench.js MODEL.onnx INPUT.npy [--threads T] [--repeat K] [--warmup W]
//
// Intra-op threads = T (inter-op 1, sequential execution), graph optimisations at
// onnxruntime's default level ("all"). The .npy feeds the model's first input (float32,
// float64, int64, int32, int8 or uint8, C order; read by tools/ort_run.js). After W warm-up
// runs it times K runs and prints one line of JSON: {"median_ms", "min_ms", "runs",
// "peak_rss_kib"}; peak_rss_kib is the largest process.memoryUsage().rss seen after loading
// and after every run.
'use strict';
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
const { readNpy } = require(path.join(__dirname, '..', 'tools', 'ort_run.js'));

async function main() {
  const args = process.argv.slice(2);
  const opt = { threads: 1, repeat: 10, warmup: 2 };
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--threads') opt.threads = Number(args[++i]);
    else if (args[i] === '--repeat') opt.repeat = Number(args[++i]);
    else if (args[i] === '--warmup') opt.warmup = Number(args[++i]);
    else pos.push(args[i]);
  }
  if (pos.length !== 2) {
    console.error('usage: node ort_bench.js MODEL.onnx INPUT.npy [--threads T] [--repeat K] [--warmup W]');
    process.exit(1);
  }
  let peak = process.memoryUsage().rss;
  const sample = () => { peak = Math.max(peak, process.memoryUsage().rss); };
  const session = await ort.InferenceSession.create(pos[0], {
    executionProviders: ['cpu'],
    intraOpNumThreads: opt.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  sample();
  const feeds = { [session.inputNames[0]]: readNpy(ort, pos[1]) };
  for (let i = 0; i < opt.warmup; i++) { await session.run(feeds); sample(); }
  const times = [];
  for (let i = 0; i < opt.repeat; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    sample();
  }
  times.sort((a, b) => a - b);
  const n = times.length;
  const median = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  console.log(JSON.stringify({
    median_ms: +median.toFixed(3), min_ms: +times[0].toFixed(3), runs: n,
    peak_rss_kib: Math.round(peak / 1024),
  }));
}

main().catch((e) => { console.error(`ort_bench: ${e.message || e}`); process.exit(1); });
