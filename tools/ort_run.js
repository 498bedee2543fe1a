#!/usr/bin/env node
// ort_run.js: runs one model on onnxruntime-node (CPU) and writes its outputs as .npy, so
// that tests can hold onnxruntime's results as references (tools/make_quant_cases.py).
//
//   node tools/ort_run.js [--ort DIR] [--opt LEVEL] MODEL.onnx OUT_DIR IN_0.npy [IN_1.npy ...]
//
// The .npy files feed the model's inputs in order (float32, float64, int64, int32, int8 or
// uint8, C order); outputs go to OUT_DIR/output_<i>.npy in the model's order. --ort: the
// folder holding node_modules/onnxruntime-node (default: the working directory). --opt:
// onnxruntime's graph optimisation level, disabled, basic, extended or all (its default).
// benchmarks/ort_bench.js reads its .npy inputs with this file's readNpy.
'use strict';
const fs = require('fs');
const path = require('path');

const TYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array],
  '|i1': ['int8', Int8Array], '|u1': ['uint8', Uint8Array],
};

function readNpy(ort, file) {
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
  if (!TYPES[descr]) throw new Error(`${file}: unsupported dtype ${descr}`);
  const [type, Arr] = TYPES[descr];
  const off = hstart + hlen;
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Arr(count);  // copy: the payload need not be aligned in buf
  new Uint8Array(data.buffer).set(buf.subarray(off, off + count * Arr.BYTES_PER_ELEMENT));
  return new ort.Tensor(type, data, shape);
}

function writeNpy(file, tensor) {
  const descr = Object.keys(TYPES).find((d) => TYPES[d][0] === tensor.type);
  if (!descr) throw new Error(`output type ${tensor.type} has no .npy form here`);
  const dims = tensor.dims.length === 1 ? `${tensor.dims[0]},` : tensor.dims.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const args = process.argv.slice(2);
  const opt = { ort: process.cwd(), level: 'all' };
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--ort') opt.ort = args[++i];
    else if (args[i] === '--opt') opt.level = args[++i];
    else pos.push(args[i]);
  }
  if (pos.length < 2) {
    console.error('usage: node ort_run.js [--ort DIR] [--opt LEVEL] MODEL.onnx OUT_DIR IN.npy...');
    process.exit(1);
  }
  const ort = require(path.join(path.resolve(opt.ort), 'node_modules', 'onnxruntime-node'));
  const session = await ort.InferenceSession.create(pos[0], {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
    graphOptimizationLevel: opt.level,
  });
  const feeds = {};
  session.inputNames.forEach((name, i) => { feeds[name] = readNpy(ort, pos[2 + i]); });
  const out = await session.run(feeds);
  session.outputNames.forEach((name, i) => {
    writeNpy(path.join(pos[1], `output_${i}.npy`), out[name]);
  });
}

module.exports = { readNpy };

if (require.main === module)
  main().catch((e) => { console.error(String(e)); process.exit(1); });
