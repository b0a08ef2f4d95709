#!/usr/bin/env node
// Dev-only check of Leger's runtime against ONNX Runtime on one model: makes deterministic random
// inputs, runs `leger-cli run` and onnxruntime-node on them, and compares every output.
//
//   node tests/realworld/compare_with_ort.js --leger PATH/leger-cli MODEL.onnx
//        [--dim NAME=VALUE ...]        value of a symbolic dimension (its name in the model, e.g.
//                                      batch, p2o.DynamicDimension.1), or INPUT:AXIS=VALUE
//        [--shape INPUT=D0,D1,... ...] the whole shape of an input
//        [--fill INPUT=VALUE ...]      a constant input (e.g. --fill sr=16000)
//        [--uniform INPUT=LO,HI ...]   uniform floats in [LO,HI) for that input
//        [--normal INPUT=STD ...]      normal floats N(0, STD^2) for that input
//        [--seed S]                    random seed (default 1)
//        [--tol T]                     pass threshold on max|leger-ort| / max|ort| (default 1e-3)
//        [--threads N]                 threads for both runtimes (default 1)
//        [--ort-opt LEVEL]             ORT graph optimization: disabled|basic|extended|all (default all)
//        [--keep DIR]                  keep the inputs and both runtimes' outputs in DIR
//        [--json FILE]                 also write the result as JSON (used by check-npm-models.sh)
//
// Inputs, unless an option above says otherwise: float tensors that look like images (rank 4 with
// 1, 3 or 4 channels first or last) are uniform in [0,1); other floats are N(0,1); an integer scalar
// named like a sample rate (sr, sample_rate) is 16000; names containing "mask" are ones; other
// integer inputs are small ints in [0,10); bools are false. Symbolic dims not given by --dim: the
// first axis 1, the spatial axes of an image 224, others 16.
//
// For each output it prints max|leger-ort|, max|ort|, their ratio and PASS if the ratio <= tol (and
// the shapes match, and NaNs sit at the same places). When max|ort| is 0 the absolute difference is
// used. Timings: Leger's is the wall time of the whole `leger-cli run` process (reading the model,
// compiling, running, writing .npy files); ORT's are the session creation and one run, measured in
// this process. Exit status: 0 when every output passes, 1 on any failure (including an error from
// either runtime), 2 on a usage error.
//
// Needs tests/bench/node_modules (cd tests/bench && npm ci); nothing else.

'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const ORT_PATH = path.join(__dirname, '..', 'bench', 'node_modules', 'onnxruntime-node');

function usage(msg) {
  if (msg) process.stderr.write(`compare_with_ort: ${msg}\n`);
  process.stderr.write(
    'usage: node compare_with_ort.js --leger PATH/leger-cli MODEL.onnx [--dim NAME=VALUE ...] [--shape INPUT=D0,D1,..]\n' +
    '       [--fill INPUT=V] [--uniform INPUT=LO,HI] [--normal INPUT=STD] [--seed S] [--tol T] [--threads N]\n' +
    '       [--ort-opt disabled|basic|extended|all] [--keep DIR] [--json FILE]\n');
  process.exit(2);
}

function splitKV(opt, v) {
  if (v === undefined) usage(`${opt} needs NAME=VALUE`);
  const eq = v.lastIndexOf('=');
  if (eq <= 0) usage(`${opt} expects NAME=VALUE, got '${v}'`);
  return [v.slice(0, eq), v.slice(eq + 1)];
}

function parseArgs(argv) {
  const o = {
    leger: null, model: null, dims: {}, axisDims: {}, shapes: {}, fills: {}, uniform: {}, normal: {},
    seed: 1, tol: 1e-3, threads: 1, ortOpt: 'all', keep: null, json: null,
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let inline;
    if (a.startsWith('--') && a.includes('=')) {
      inline = a.slice(a.indexOf('=') + 1);
      a = a.slice(0, a.indexOf('='));
    }
    const next = () => (inline !== undefined ? inline : argv[++i]);
    const num = (name, v) => {
      const n = Number(v);
      if (v === undefined || v === '' || !Number.isFinite(n)) usage(`${name} needs a number, got '${v}'`);
      return n;
    };
    switch (a) {
      case '--leger': o.leger = next(); break;
      case '--dim': {
        const [k, v] = splitKV(a, next());
        const n = num(a, v);
        const colon = k.lastIndexOf(':');
        if (colon > 0 && /^\d+$/.test(k.slice(colon + 1))) o.axisDims[`${k.slice(0, colon)}:${k.slice(colon + 1)}`] = n;
        else o.dims[k] = n;
        break;
      }
      case '--shape': {
        const [k, v] = splitKV(a, next());
        o.shapes[k] = v.split(/[,x]/).filter((s) => s !== '').map((s) => num(a, s));
        break;
      }
      case '--fill': { const [k, v] = splitKV(a, next()); o.fills[k] = num(a, v); break; }
      case '--uniform': {
        const [k, v] = splitKV(a, next());
        const p = v.split(',').map((s) => num(a, s));
        if (p.length !== 2) usage('--uniform expects INPUT=LO,HI');
        o.uniform[k] = p;
        break;
      }
      case '--normal': { const [k, v] = splitKV(a, next()); o.normal[k] = num(a, v); break; }
      case '--seed': o.seed = num(a, next()); break;
      case '--tol': o.tol = num(a, next()); break;
      case '--threads': o.threads = num(a, next()); break;
      case '--ort-opt': o.ortOpt = next(); break;
      case '--keep': o.keep = next(); break;
      case '--json': o.json = next(); break;
      case '-h': case '--help': usage(); break;
      default:
        if (a.startsWith('-')) usage(`unknown option ${a}`);
        if (o.model) usage(`unexpected argument ${a}`);
        o.model = a;
    }
  }
  if (!o.leger) usage('--leger PATH/leger-cli is required');
  if (!o.model) usage('no model given');
  if (!['disabled', 'basic', 'extended', 'all'].includes(o.ortOpt)) usage(`bad --ort-opt ${o.ortOpt}`);
  return o;
}

// ---------------------------------------------------------------------------------------- .npy

const NPY = {
  // dtype -> [descr, TypedArray]
  float32: ['<f4', Float32Array], float64: ['<f8', Float64Array], int64: ['<i8', BigInt64Array],
  uint64: ['<u8', BigUint64Array], int32: ['<i4', Int32Array], uint32: ['<u4', Uint32Array],
  int16: ['<i2', Int16Array], uint16: ['<u2', Uint16Array], int8: ['|i1', Int8Array],
  uint8: ['|u1', Uint8Array], bool: ['|b1', Uint8Array], float16: ['<f2', Uint16Array],
};
const DESCR = { f2: 'float16', f4: 'float32', f8: 'float64', i8: 'int64', u8: 'uint64', i4: 'int32', u4: 'uint32', i2: 'int16',
  u2: 'uint16', i1: 'int8', u1: 'uint8', b1: 'bool' };

function writeNpy(file, type, dims, data) {
  const descr = NPY[type][0];
  const shape = dims.length === 0 ? '()' : dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.readUInt32BE(0) !== 0x934e554d) throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const offset = major === 1 ? 10 : 12;
  const header = buf.subarray(offset, offset + headerLen).toString('latin1');
  const descr = (header.match(/'descr'\s*:\s*'([^']*)'/) || [])[1];
  const fortran = (header.match(/'fortran_order'\s*:\s*(True|False)/) || [])[1];
  const shapeS = (header.match(/'shape'\s*:\s*\(([^)]*)\)/) || [])[1];
  if (!descr || !fortran || shapeS === undefined) throw new Error(`${file}: malformed header ${header}`);
  if (fortran === 'True') throw new Error(`${file}: Fortran order`);
  if (descr[0] === '>' && !descr.endsWith('1')) throw new Error(`${file}: big-endian`);
  const type = DESCR[descr.slice(1)];
  if (!type) throw new Error(`${file}: unsupported dtype ${descr}`);
  const dims = shapeS.split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const T = NPY[type][1];
  const count = dims.reduce((x, y) => x * y, 1);
  const start = offset + headerLen;
  const ab = new ArrayBuffer(count * T.BYTES_PER_ELEMENT);
  new Uint8Array(ab).set(buf.subarray(start, start + ab.byteLength));
  if (buf.length < start + ab.byteLength) throw new Error(`${file}: truncated`);
  return { type, dims, data: new T(ab) };
}

// float16 <-> float32 (float16 data is kept as raw Uint16Array bits).
function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
function floatToHalf(v) { // round to nearest even
  f32[0] = v;
  const x = u32[0], sign = (x >>> 16) & 0x8000, e = (x >>> 23) & 0xff, m = x & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  const he = e - 127 + 15;
  if (he >= 31) return sign | 0x7c00;
  if (he <= 0) {
    if (he < -10) return sign;
    const mm = m | 0x800000, shift = 14 - he;
    let r = mm >>> shift; const rem = mm & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (he << 10) | (m >>> 13); const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) r++;
  return sign | r;
}

// ---------------------------------------------------------------------------------------- inputs

function rng(seed) { // mulberry32
  let s = (seed >>> 0) || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Symbolic dims with one name get one value: a name that is the first axis of some input (or looks
// like a batch) defaults to 1, the spatial axes of a rank-4 input to 224, others to 16.
function symbolicDefaults(metas) {
  const def = {};
  for (const m of metas)
    (m.shape || []).forEach((d, axis) => {
      if (typeof d !== 'string' || d === '') return;
      const v = axis === 0 || /batch/i.test(d) ? 1 : (m.shape.length === 4 && axis >= 2 ? 224 : 16);
      if (!(d in def) || v === 1) def[d] = v;
    });
  return def;
}

function resolveShape(opts, meta, defaults, warnings) {
  if (opts.shapes[meta.name]) return opts.shapes[meta.name].slice();
  const shape = meta.shape || [];
  return shape.map((d, axis) => {
    const axisKey = `${meta.name}:${axis}`;
    if (axisKey in opts.axisDims) return opts.axisDims[axisKey];
    if (typeof d === 'number' && d >= 0) return d;
    if (typeof d === 'string' && d in opts.dims) return opts.dims[d];
    let v;
    if (typeof d === 'string' && d in defaults) v = defaults[d];
    else if (axis === 0) v = 1;
    else if (shape.length === 4 && axis >= 2) v = 224;
    else v = 16;
    warnings.push(`input ${meta.name}: axis ${axis} (${typeof d === 'string' && d ? d : '?'}) set to ${v}; use --dim to choose`);
    return v;
  });
}

function looksLikeImage(dims) {
  if (dims.length !== 4) return false;
  const ch = (c) => c === 1 || c === 3 || c === 4;
  return (ch(dims[1]) && dims[2] >= 8 && dims[3] >= 8) || (ch(dims[3]) && dims[1] >= 8 && dims[2] >= 8);
}

function makeInput(opts, meta, dims, index) {
  const count = dims.reduce((a, b) => a * b, 1);
  const r = rng(Math.imul(opts.seed | 0, 9973) + 7919 * (index + 1));
  const name = meta.name;
  const type = meta.type;
  const T = NPY[type] ? NPY[type][1] : null;
  if (!T) throw new Error(`input ${name}: cannot make an input of type ${type}`);
  if (type === 'float16') {
    const f = makeInput(opts, { ...meta, type: 'float32' }, dims, index);
    return { ...f, type, data: Uint16Array.from(f.data, floatToHalf) };
  }
  const data = new T(count);
  let how;
  const isFloat = type === 'float32' || type === 'float64';
  const isBig = type === 'int64' || type === 'uint64';
  const put = (i, v) => { data[i] = isBig ? BigInt(Math.trunc(v)) : v; };
  if (name in opts.fills) {
    for (let i = 0; i < count; i++) put(i, opts.fills[name]);
    how = `constant ${opts.fills[name]}`;
  } else if (type === 'bool') {
    how = 'false';
  } else if (isFloat) {
    if (name in opts.uniform || (!(name in opts.normal) && looksLikeImage(dims))) {
      const [lo, hi] = opts.uniform[name] || [0, 1];
      for (let i = 0; i < count; i++) data[i] = lo + (hi - lo) * r();
      how = `uniform [${lo},${hi})`;
    } else {
      const std = name in opts.normal ? opts.normal[name] : 1;
      for (let i = 0; i < count; i += 2) { // Box-Muller
        const u = Math.max(r(), 1e-12), v = r();
        const m = std * Math.sqrt(-2 * Math.log(u));
        data[i] = m * Math.cos(2 * Math.PI * v);
        if (i + 1 < count) data[i + 1] = m * Math.sin(2 * Math.PI * v);
      }
      how = `normal(0,${std})`;
    }
  } else if (dims.length === 0 && /(^|_)(sr|sample_?rate|sampling_?rate)$/i.test(name)) {
    put(0, 16000);
    how = 'constant 16000 (sample rate)';
  } else if (/mask/i.test(name)) {
    for (let i = 0; i < count; i++) put(i, 1);
    how = 'ones (mask)';
  } else {
    for (let i = 0; i < count; i++) put(i, Math.floor(r() * 10));
    how = 'ints [0,10)';
  }
  return { name, type, dims, data, how };
}

// Parses the inputs of `leger-cli info` (when ORT gives no metadata): "  NAME  DTYPE  [d0, d1, ?]".
function inputsFromLegerInfo(leger, model) {
  const r = spawnSync(leger, ['info', model], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`leger-cli info failed: ${r.stderr}`);
  const lines = r.stdout.split('\n');
  const out = [];
  let inInputs = false;
  for (const line of lines) {
    if (line.startsWith('inputs:')) { inInputs = true; continue; }
    if (line.startsWith('outputs:')) break;
    if (!inInputs) continue;
    const m = line.match(/^\s+(\S+)\s+(\S+)\s+\[?([^\]]*)\]?\s*$/);
    if (!m) continue;
    const dims = m[3].split(/[,x ]+/).filter((s) => s).map((s) => (/^\d+$/.test(s) ? Number(s) : s === '?' ? '' : s));
    const type = { float: 'float32', double: 'float64' }[m[2]] || m[2];
    out.push({ name: m[1], type, shape: dims });
  }
  return out;
}

// ---------------------------------------------------------------------------------------- compare

function toNumbers(t) {
  if (t.type === 'float16') return Float32Array.from(t.data instanceof Uint16Array ? t.data : new Uint16Array(t.data.buffer, t.data.byteOffset, t.data.length), halfToFloat);
  if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) return Float64Array.from(t.data, Number);
  return t.data;
}

function compare(leger, ort, tol) {
  const res = { legerShape: leger.dims, ortShape: ort.dims, legerType: leger.type, ortType: ort.type };
  if (leger.dims.length !== ort.dims.length || leger.dims.some((d, i) => d !== ort.dims[i])) {
    res.status = 'FAIL';
    res.why = `shape [${leger.dims}] vs ORT [${ort.dims}]`;
    return res;
  }
  if (leger.type !== ort.type) {
    res.status = 'FAIL';
    res.why = `element type ${leger.type} vs ORT ${ort.type}`;
    return res;
  }
  const a = toNumbers(leger), b = toNumbers(ort);
  let maxDiff = 0, maxRef = 0, nanMismatch = 0, worst = -1;
  for (let i = 0; i < b.length; i++) {
    const x = a[i], y = b[i];
    const xn = Number.isNaN(x), yn = Number.isNaN(y);
    if (xn || yn) { if (xn !== yn) { nanMismatch++; if (worst < 0) worst = i; } continue; }
    if (Number.isFinite(y)) maxRef = Math.max(maxRef, Math.abs(y));
    const d = x === y ? 0 : Math.abs(x - y); // equal infinities differ by 0
    if (d > maxDiff || Number.isNaN(d)) { maxDiff = Number.isNaN(d) ? Infinity : d; worst = i; }
  }
  // How many elements are off by more than tol * max|ort|: a few means a discrete decision flipped.
  const lim = tol * (maxRef > 0 ? maxRef : 1);
  let over = 0;
  for (let i = 0; i < b.length; i++) if (Math.abs(a[i] - b[i]) > lim) over++;
  res.over = over;
  res.maxDiff = maxDiff;
  res.maxRef = maxRef;
  res.rel = maxRef > 0 ? maxDiff / maxRef : maxDiff;
  res.count = b.length;
  if (worst >= 0) {
    const idx = [];
    let r = worst;
    for (let k = ort.dims.length - 1; k >= 0; k--) { idx.unshift(r % ort.dims[k]); r = Math.floor(r / ort.dims[k]); }
    res.worst = { index: idx, leger: a[worst], ort: b[worst] };
  }
  if (nanMismatch) {
    res.status = 'FAIL';
    res.why = `${nanMismatch} NaN(s) where the other runtime has a number`;
  } else {
    res.status = res.rel <= tol ? 'PASS' : 'FAIL';
  }
  return res;
}

const fmt = (v) => (v === undefined ? '-' : v === 0 ? '0' : Math.abs(v) >= 1e-2 && Math.abs(v) < 1e5 ? v.toPrecision(4) : v.toExponential(2));
const safeName = (n) => {
  let s = n.replace(/[^A-Za-z0-9._-]/g, '_');
  if (s === '' || s === '.' || s === '..') s = '_' + s;
  return s;
};

// ---------------------------------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(opts.model)) usage(`no model at ${opts.model}`);
  if (!fs.existsSync(opts.leger)) usage(`no leger-cli at ${opts.leger}`);
  let ort;
  try {
    ort = require(ORT_PATH);
  } catch (e) {
    process.stderr.write(`compare_with_ort: cannot load ${ORT_PATH} (run 'npm ci' in tests/bench): ${e.message}\n`);
    process.exit(1);
  }
  const result = { model: opts.model, seed: opts.seed, tol: opts.tol, inputs: [], outputs: [], warnings: [] };
  const finish = (code) => {
    result.status = code === 0 ? 'PASS' : result.status || 'FAIL';
    if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(result, null, 1) + '\n');
    process.exit(code);
  };

  const work = opts.keep || fs.mkdtempSync(path.join(os.tmpdir(), 'leger-cmp-'));
  const inDir = path.join(work, 'inputs'), legerDir = path.join(work, 'leger'), ortDir = path.join(work, 'ort');
  for (const d of [inDir, legerDir, ortDir]) { fs.rmSync(d, { recursive: true, force: true }); fs.mkdirSync(d, { recursive: true }); }
  const cleanup = () => { if (!opts.keep) fs.rmSync(work, { recursive: true, force: true }); };

  // ORT session first: it gives the input metadata.
  let session, createMs;
  try {
    const t0 = process.hrtime.bigint();
    session = await ort.InferenceSession.create(opts.model, {
      executionProviders: ['cpu'], intraOpNumThreads: opts.threads, interOpNumThreads: 1,
      executionMode: 'sequential', graphOptimizationLevel: opts.ortOpt, logSeverityLevel: 4,
    });
    createMs = Number(process.hrtime.bigint() - t0) / 1e6;
  } catch (e) {
    process.stdout.write(`ORT cannot load the model: ${e.message}\n`);
    result.status = 'ORT-ERROR';
    result.error = e.message;
    cleanup();
    finish(1);
  }
  let metas = session.inputMetadata && session.inputMetadata.length === session.inputNames.length
    ? session.inputMetadata.map((m) => ({ name: m.name, type: m.type, shape: m.shape }))
    : null;
  if (!metas || metas.some((m) => !m.type || !m.shape)) {
    const fromInfo = inputsFromLegerInfo(opts.leger, opts.model);
    metas = session.inputNames.map((n) => fromInfo.find((m) => m.name === n) || { name: n, type: 'float32', shape: [] });
  }
  for (const k of Object.keys(opts.shapes).concat(Object.keys(opts.fills), Object.keys(opts.uniform), Object.keys(opts.normal)))
    if (!session.inputNames.includes(k)) usage(`the model has no input '${k}' (inputs: ${session.inputNames.join(', ')})`);

  const feeds = {};
  const legerArgs = ['run', opts.model, '--output-dir', legerDir, '--threads', String(opts.threads)];
  const defaults = symbolicDefaults(metas);
  metas.forEach((meta, index) => {
    const dims = resolveShape(opts, meta, defaults, result.warnings);
    const inp = makeInput(opts, meta, dims, index);
    const file = path.join(inDir, `${safeName(meta.name)}.npy`);
    writeNpy(file, inp.type, dims, inp.data);
    legerArgs.push('--input', `${meta.name}=${file}`);
    feeds[meta.name] = new ort.Tensor(inp.type, inp.type === 'bool' ? Uint8Array.from(inp.data) : inp.data, dims);
    result.inputs.push({ name: meta.name, type: inp.type, shape: dims, how: inp.how, declared: meta.shape });
  });

  process.stdout.write(`model: ${opts.model}\n`);
  for (const w of result.warnings) process.stdout.write(`  note: ${w}\n`);
  for (const i of result.inputs)
    process.stdout.write(`  input  ${i.name} ${i.type} [${i.shape.join(',')}] ${i.how}\n`);

  // ORT run.
  let ortOut;
  try {
    const t0 = process.hrtime.bigint();
    ortOut = await session.run(feeds);
    result.ortRunMs = Number(process.hrtime.bigint() - t0) / 1e6;
    result.ortCreateMs = createMs;
  } catch (e) {
    process.stdout.write(`ORT failed to run the model: ${e.message}\n`);
    result.status = 'ORT-ERROR';
    result.error = e.message;
    cleanup();
    finish(1);
  }

  // Leger run.
  const t0 = process.hrtime.bigint();
  const lr = spawnSync(opts.leger, legerArgs, { encoding: 'utf8', maxBuffer: 64 << 20 });
  result.legerMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (lr.status !== 0) {
    const err = (lr.stderr || '').trim().split('\n').filter((l) => l).pop() || `exit status ${lr.status}, signal ${lr.signal}`;
    process.stdout.write(`Leger failed: ${err}\n`);
    result.status = /unsupported|not supported|not implemented/i.test(err) ? 'UNSUPPORTED' : 'LEGER-ERROR';
    result.error = err;
    cleanup();
    finish(1);
  }

  let allPass = true;
  for (const name of session.outputNames) {
    const ref = ortOut[name];
    const refArr = { type: ref.type, dims: Array.from(ref.dims), data: ref.data };
    const file = path.join(legerDir, `${safeName(name)}.npy`);
    let r;
    if (!fs.existsSync(file)) {
      r = { status: 'FAIL', why: 'Leger wrote no such output' };
    } else {
      r = compare(readNpy(file), refArr, opts.tol);
    }
    if (opts.keep && NPY[ref.type]) writeNpy(path.join(ortDir, `${safeName(name)}.npy`), ref.type, refArr.dims, ref.data);
    r.name = name;
    result.outputs.push(r);
    if (r.status !== 'PASS') allPass = false;
    const where = r.worst ? ` worst at [${r.worst.index}] leger=${fmt(r.worst.leger)} ort=${fmt(r.worst.ort)}` : '';
    process.stdout.write(`  output ${name} [${(r.ortShape || []).join(',')}] max|diff|=${fmt(r.maxDiff)} ` +
      `max|ort|=${fmt(r.maxRef)} rel=${fmt(r.rel)} ${r.status}${r.why ? ` (${r.why})` : ''}${r.status === 'PASS' ? '' : `${where}; ${r.over} of ${r.count} elements over tol`}\n`);
  }
  process.stdout.write(`  time: leger-cli run ${result.legerMs.toFixed(1)} ms (process: load+run+write); ` +
    `ORT create ${createMs.toFixed(1)} ms + run ${result.ortRunMs.toFixed(1)} ms\n`);
  process.stdout.write(`${allPass ? 'PASS' : 'FAIL'} ${opts.model}\n`);
  if (typeof session.release === 'function') await session.release();
  cleanup();
  finish(allPass ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`compare_with_ort: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
