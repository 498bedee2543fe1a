#!/usr/bin/env node
// ort_bench.js: times one model on onnxruntime-node (CPU execution provider).
//
//   node benchmarks/ort_bench.js MODEL.onnx INPUT.npy [--threads T] [--repeat K] [--warmup W]
//
// Intra-op threads = T (inter-op 1, sequential execution), graph optimisations at
// onnxruntime's default level ("all"). The .npy feeds the model's first input (float32,
// int64, int32 or float64, C order). After W warm-up runs it times K runs and prints one
// line of JSON: {"median_ms", "min_ms", "runs", "peak_rss_kib"}; peak_rss_kib is the
// largest process.memoryUsage().rss seen after loading and after every run.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',')
    .map((s) => s.trim()).filter((s) => s.length).map(Number);
  const types = {
    '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
    '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array],
  };
  if (!types[descr]) throw new Error(`${file}: unsupported dtype ${descr}`);
  const [type, Arr] = types[descr];
  const off = hstart + hlen;
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Arr(count);  // copy: the payload need not be aligned in buf
  new Uint8Array(data.buffer).set(buf.subarray(off, off + count * Arr.BYTES_PER_ELEMENT));
  return new ort.Tensor(type, data, shape);
}

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
  const feeds = { [session.inputNames[0]]: readNpy(pos[1]) };
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
