#!/usr/bin/env node
// Runs one ONNX model with ONNX Runtime (onnxruntime-node, CPU) on inputs from .npy files and
// writes every output as a .npy file; used by the tests that check Leger's exports against ORT.
//
//   node tests/ort/run_ort.js MODEL.onnx --input NAME=FILE.npy [--input NAME2=FILE2.npy ...]
//        --output-dir DIR [--threads N] [--opt disabled|basic|extended|all]
//
// - Inputs: little-endian, C-order .npy of float32, float64, int64, int32, int8, uint8 or bool.
// - Each output is written as DIR/<name>.npy (characters of <name> outside [A-Za-z0-9_.-]
//   become '_'): float32 and the integer types as they are, float16/float64 as float32.
// - Prints one JSON line: {"model", "outputs": [files], "onnxruntime": version}.
// - Exit status: 0 on success, 1 on an error (message on stderr), 2 on a usage error.
//
// Needs `npm ci` in tests/ort (tests/run-all.sh does it); the .npmrc there skips only
// onnxruntime-node's download of CUDA binaries, the CPU build is part of the package.

'use strict';

const fs = require('fs');
const path = require('path');

function usage(msg) {
  if (msg) process.stderr.write(`run_ort: ${msg}\n`);
  process.stderr.write('usage: node run_ort.js MODEL.onnx --input NAME=FILE.npy [...] --output-dir DIR ' +
                       '[--threads N] [--opt disabled|basic|extended|all]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { model: null, inputs: [], outputDir: null, threads: 1, opt: 'all' };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let inline;
    if (a.startsWith('--') && a.includes('=')) {
      inline = a.slice(a.indexOf('=') + 1);
      a = a.slice(0, a.indexOf('='));
    }
    const next = () => {
      const v = inline !== undefined ? inline : argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--input': {
        const v = next();
        const eq = v.indexOf('=');
        if (eq <= 0) usage(`--input expects NAME=FILE.npy, got '${v}'`);
        o.inputs.push({ name: v.slice(0, eq), file: v.slice(eq + 1) });
        break;
      }
      case '--output-dir': o.outputDir = next(); break;
      case '--threads': {
        o.threads = Number(next());
        if (!Number.isInteger(o.threads) || o.threads < 1) usage('--threads needs a positive integer');
        break;
      }
      case '--opt': {
        o.opt = next();
        if (!['disabled', 'basic', 'extended', 'all'].includes(o.opt)) usage(`unknown --opt '${o.opt}'`);
        break;
      }
      default:
        if (a.startsWith('--')) usage(`unknown option '${a}'`);
        if (o.model) usage(`more than one model: '${o.model}' and '${a}'`);
        o.model = a;
    }
  }
  if (!o.model) usage('no model given');
  if (!o.outputDir) usage('no --output-dir given');
  return o;
}

// .npy descr code -> [ORT type, typed array, bytes per element]
const NPY_TYPES = {
  f4: ['float32', Float32Array, 4],
  f8: ['float64', Float64Array, 8],
  i8: ['int64', BigInt64Array, 8],
  i4: ['int32', Int32Array, 4],
  i1: ['int8', Int8Array, 1],
  u1: ['uint8', Uint8Array, 1],
  b1: ['bool', Uint8Array, 1],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const magic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
  if (buf.length < 10 || !buf.subarray(0, 6).equals(magic)) throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  let headerLen, offset;
  if (major === 1) { headerLen = buf.readUInt16LE(8); offset = 10; }
  else if (major === 2 || major === 3) { headerLen = buf.readUInt32LE(8); offset = 12; }
  else throw new Error(`${file}: unsupported .npy version ${major}`);
  const header = buf.subarray(offset, offset + headerLen).toString('latin1');
  const descr = header.match(/'descr'\s*:\s*'([^']*)'/);
  const fortran = header.match(/'fortran_order'\s*:\s*(True|False)/);
  const shape = header.match(/'shape'\s*:\s*\(([^)]*)\)/);
  if (!descr || !fortran || !shape) throw new Error(`${file}: malformed .npy header: ${header}`);
  if (fortran[1] === 'True') throw new Error(`${file}: Fortran-order arrays are not supported`);
  const t = NPY_TYPES[descr[1].slice(1)];
  if (!t || (descr[1][0] === '>' && t[2] > 1)) throw new Error(`${file}: unsupported dtype '${descr[1]}'`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${file}: bad shape (${shape[1]})`);
  const nbytes = dims.reduce((a, b) => a * b, 1) * t[2];
  const start = offset + headerLen;
  if (buf.length < start + nbytes) throw new Error(`${file}: truncated data`);
  const ab = new ArrayBuffer(nbytes); // aligned copy
  new Uint8Array(ab).set(buf.subarray(start, start + nbytes));
  let data = new t[1](ab);
  if (t[0] === 'bool') data = Uint8Array.from(data, (v) => (v ? 1 : 0));
  return { type: t[0], dims, data };
}

function npyBytes(descr, dims, bytes) {
  const shape = dims.length === 0 ? '()' : dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1; // magic, version, length, header, '\n': a multiple of 64
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre, 0);
  pre.writeUInt16LE(header.length, 8);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), bytes]);
}

function tensorToNpy(t) {
  const dims = Array.from(t.dims);
  const raw = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  switch (t.type) {
    case 'float32': return npyBytes('<f4', dims, raw(t.data));
    case 'float16':
    case 'float64': return npyBytes('<f4', dims, raw(Float32Array.from(t.data, Number)));
    case 'int64': return npyBytes('<i8', dims, raw(t.data));
    case 'int32': return npyBytes('<i4', dims, raw(t.data));
    case 'int8': return npyBytes('|i1', dims, raw(t.data));
    case 'uint8': return npyBytes('|u1', dims, raw(t.data));
    case 'bool': return npyBytes('|b1', dims, raw(Uint8Array.from(t.data, (v) => (v ? 1 : 0))));
    default: throw new Error(`cannot write an output of type ${t.type} as .npy`);
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    process.stderr.write(`run_ort: cannot load onnxruntime-node (run 'npm ci' in ${__dirname}): ${e.message}\n`);
    process.exit(1);
  }
  const session = await ort.InferenceSession.create(o.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: o.opt,
  });
  const feeds = {};
  for (const inp of o.inputs) {
    if (!session.inputNames.includes(inp.name))
      usage(`the model has no input '${inp.name}' (inputs: ${JSON.stringify(session.inputNames)})`);
    const a = readNpy(inp.file);
    feeds[inp.name] = new ort.Tensor(a.type, a.data, a.dims);
  }
  const missing = session.inputNames.filter((n) => !(n in feeds));
  if (missing.length) usage(`no --input given for ${JSON.stringify(missing)}`);
  const outputs = await session.run(feeds);
  fs.mkdirSync(o.outputDir, { recursive: true });
  const written = [];
  for (const name of session.outputNames) {
    const file = path.join(o.outputDir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.npy`);
    fs.writeFileSync(file, tensorToNpy(outputs[name]));
    written.push(file);
  }
  process.stdout.write(JSON.stringify({
    model: o.model, outputs: written, onnxruntime: ort.env.versions ? ort.env.versions.node : undefined,
  }) + '\n');
  if (typeof session.release === 'function') await session.release();
}

main().catch((e) => {
  process.stderr.write(`run_ort: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
