#!/usr/bin/env node
// Dev-only ONNX Runtime reference for Leger's benchmarks: timings and outputs of a model run by
// onnxruntime-node on the CPU.
//
//   cd tests/bench && npm install
//   node ort_bench.js MODEL.onnx --input NAME=FILE.npy [--input NAME2=FILE2.npy ...]
//        [--threads N] [--iters K] [--warmup W] [--output-dir DIR]
//
// - The session uses intraOpNumThreads=N (default 1), interOpNumThreads=1, sequential execution
//   and all graph optimizations.
// - Inputs are .npy files (little-endian, C order): float32, float64 (given to ORT as float64),
//   int64, int32, uint8, int8, bool. With a single-input model, `--input FILE.npy` is enough.
// - Runs W warm-up iterations (default 3), then K timed ones (default 10), and prints one JSON
//   line on stdout: {"ms_per_run": mean, "runs": K, "threads": N, "ms_median", "ms_min", ...}.
// - With --output-dir, each output is written as DIR/<name>.npy: floating outputs as float32,
//   integer/bool outputs in their own type. Characters of <name> outside [A-Za-z0-9_.-] become '_'.
//
// Install note: onnxruntime-node bundles its CPU binaries; its postinstall script would only try to
// download CUDA binaries from a feed that is not reachable here, which tests/bench/.npmrc skips
// (equivalently: ONNXRUNTIME_NODE_INSTALL=skip npm install).

'use strict';

const fs = require('fs');
const path = require('path');

function usage(msg) {
  if (msg) process.stderr.write(`ort_bench: ${msg}\n`);
  process.stderr.write(
    'usage: node ort_bench.js MODEL.onnx --input NAME=FILE.npy [--threads N] [--iters K] [--warmup W] [--output-dir DIR]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { model: null, inputs: [], threads: 1, iters: 10, warmup: 3, outputDir: null };
  const intArg = (name, v) => {
    if (v === undefined) usage(`${name} needs a value`);
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) usage(`${name} must be a non-negative integer, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let inlineValue;
    if (a.startsWith('--') && a.includes('=') && !a.startsWith('--input=')) {
      [a, inlineValue] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
    } else if (a.startsWith('--input=')) {
      inlineValue = a.slice('--input='.length);
      a = '--input';
    }
    const next = () => (inlineValue !== undefined ? inlineValue : argv[++i]);
    switch (a) {
      case '--input': {
        const v = next();
        if (v === undefined) usage('--input needs NAME=FILE.npy');
        const eq = v.indexOf('=');
        if (eq > 0) opts.inputs.push({ name: v.slice(0, eq), file: v.slice(eq + 1) });
        else opts.inputs.push({ name: null, file: v });
        break;
      }
      case '--threads': opts.threads = intArg(a, next()); break;
      case '--iters': opts.iters = intArg(a, next()); break;
      case '--warmup': opts.warmup = intArg(a, next()); break;
      case '--output-dir': opts.outputDir = next(); if (!opts.outputDir) usage('--output-dir needs a value'); break;
      case '-h': case '--help': usage(); break;
      default:
        if (a.startsWith('-')) usage(`unknown option ${a}`);
        if (opts.model) usage(`unexpected argument ${a}`);
        opts.model = a;
    }
  }
  if (!opts.model) usage('no model given');
  if (opts.threads < 1) usage('--threads must be >= 1');
  if (opts.iters < 1) usage('--iters must be >= 1');
  return opts;
}

// ---------------------------------------------------------------------------------------- .npy

const NPY_TYPES = {
  // descr (without byte order) -> [ort type, TypedArray, itemsize]
  f4: ['float32', Float32Array, 4],
  f8: ['float64', Float64Array, 8],
  i8: ['int64', BigInt64Array, 8],
  u8: ['uint64', BigUint64Array, 8],
  i4: ['int32', Int32Array, 4],
  u4: ['uint32', Uint32Array, 4],
  i2: ['int16', Int16Array, 2],
  u2: ['uint16', Uint16Array, 2],
  i1: ['int8', Int8Array, 1],
  u1: ['uint8', Uint8Array, 1],
  b1: ['bool', Uint8Array, 1],
};

function parseNpy(buf, what) {
  const magic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
  if (buf.length < 10 || !buf.subarray(0, 6).equals(magic)) throw new Error(`${what}: not a .npy file`);
  const major = buf[6];
  let headerLen, offset;
  if (major === 1) { headerLen = buf.readUInt16LE(8); offset = 10; }
  else if (major === 2 || major === 3) { headerLen = buf.readUInt32LE(8); offset = 12; }
  else throw new Error(`${what}: unsupported .npy version ${major}`);
  const header = buf.subarray(offset, offset + headerLen).toString('latin1');
  const dataStart = offset + headerLen;

  const descrM = header.match(/'descr'\s*:\s*'([^']*)'/);
  const fortranM = header.match(/'fortran_order'\s*:\s*(True|False)/);
  const shapeM = header.match(/'shape'\s*:\s*\(([^)]*)\)/);
  if (!descrM || !fortranM || !shapeM) throw new Error(`${what}: malformed .npy header: ${header}`);
  if (fortranM[1] === 'True') throw new Error(`${what}: Fortran-order arrays are not supported`);
  const descr = descrM[1];
  const order = descr[0];
  const code = descr.slice(1);
  const t = NPY_TYPES[code];
  if (!t) throw new Error(`${what}: unsupported dtype '${descr}'`);
  if (order === '>' && t[2] > 1) throw new Error(`${what}: big-endian arrays are not supported`);
  if (!['<', '|', '='].includes(order) && t[2] > 1) throw new Error(`${what}: unsupported byte order '${order}'`);
  const dims = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${what}: bad shape (${shapeM[1]})`);
  const count = dims.reduce((a, b) => a * b, 1);
  const nbytes = count * t[2];
  if (buf.length < dataStart + nbytes) throw new Error(`${what}: truncated data (${buf.length - dataStart} of ${nbytes} bytes)`);
  // Copy into a fresh, aligned ArrayBuffer.
  const ab = new ArrayBuffer(nbytes);
  new Uint8Array(ab).set(buf.subarray(dataStart, dataStart + nbytes));
  let data = new t[1](ab);
  if (t[0] === 'bool') data = Uint8Array.from(data, (v) => (v ? 1 : 0));
  return { type: t[0], dims, data };
}

function serializeNpy(descr, dims, bytes) {
  const shape = dims.length === 0 ? '()' : dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // magic(6) + version(2) + len(2) + header + '\n' padded to a multiple of 64.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre, 0);
  pre.writeUInt16LE(header.length, 8);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), bytes]);
}

function tensorToNpy(tensor) {
  const dims = Array.from(tensor.dims);
  const d = tensor.data;
  const asBytes = (ta) => Buffer.from(ta.buffer, ta.byteOffset, ta.byteLength);
  switch (tensor.type) {
    case 'float32': return serializeNpy('<f4', dims, asBytes(d));
    case 'float64':
    case 'float16': return serializeNpy('<f4', dims, asBytes(Float32Array.from(d, Number)));
    case 'int64': return serializeNpy('<i8', dims, asBytes(d));
    case 'uint64': return serializeNpy('<u8', dims, asBytes(d));
    case 'int32': return serializeNpy('<i4', dims, asBytes(d));
    case 'uint32': return serializeNpy('<u4', dims, asBytes(d));
    case 'int16': return serializeNpy('<i2', dims, asBytes(d));
    case 'uint16': return serializeNpy('<u2', dims, asBytes(d));
    case 'int8': return serializeNpy('|i1', dims, asBytes(d));
    case 'uint8': return serializeNpy('|u1', dims, asBytes(d));
    case 'bool': return serializeNpy('|b1', dims, asBytes(Uint8Array.from(d, (v) => (v ? 1 : 0))));
    default: throw new Error(`cannot write an output of type ${tensor.type} as .npy`);
  }
}

// ---------------------------------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    process.stderr.write(`ort_bench: cannot load onnxruntime-node (run 'npm install' in ${__dirname}): ${e.message}\n`);
    process.exit(1);
  }

  const session = await ort.InferenceSession.create(opts.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });

  const feeds = {};
  for (const inp of opts.inputs) {
    let name = inp.name;
    if (name === null) {
      if (session.inputNames.length !== 1) usage(`the model has inputs ${JSON.stringify(session.inputNames)}: use --input NAME=FILE.npy`);
      name = session.inputNames[0];
    }
    if (!session.inputNames.includes(name)) usage(`the model has no input '${name}' (inputs: ${JSON.stringify(session.inputNames)})`);
    const arr = parseNpy(fs.readFileSync(inp.file), inp.file);
    feeds[name] = new ort.Tensor(arr.type, arr.data, arr.dims);
  }
  const missing = session.inputNames.filter((n) => !(n in feeds));
  if (missing.length) usage(`no --input given for ${JSON.stringify(missing)}`);

  let outputs;
  for (let i = 0; i < opts.warmup; i++) outputs = await session.run(feeds);
  const times = [];
  for (let i = 0; i < opts.iters; i++) {
    const t0 = process.hrtime.bigint();
    outputs = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;

  const written = [];
  if (opts.outputDir) {
    fs.mkdirSync(opts.outputDir, { recursive: true });
    for (const name of session.outputNames) {
      const file = path.join(opts.outputDir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.npy`);
      fs.writeFileSync(file, tensorToNpy(outputs[name]));
      written.push(file);
    }
  }

  const round = (v) => Math.round(v * 1000) / 1000;
  const result = {
    ms_per_run: round(mean),
    runs: opts.iters,
    threads: opts.threads,
    ms_median: round(median),
    ms_min: round(sorted[0]),
    warmup: opts.warmup,
    model: opts.model,
    onnxruntime: ort.env.versions ? ort.env.versions.node : undefined,
  };
  if (opts.outputDir) result.outputs = written;
  process.stdout.write(JSON.stringify(result) + '\n');
  if (typeof session.release === 'function') await session.release();
}

main().catch((e) => {
  process.stderr.write(`ort_bench: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
