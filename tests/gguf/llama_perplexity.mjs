#!/usr/bin/env node
// An independent perplexity check: llama.cpp itself (the libllama/libggml that the npm package
// node-llama-cpp ships prebuilt) loads a GGUF file, tokenizes a text with the model's own
// vocabulary and computes its perplexity the way llama.cpp's `perplexity` tool does:
//
//   - the whole text file is tokenized by llama.cpp's tokenizer (special-token text is not
//     parsed; llama-perplexity's -f also drops one final newline: --strip-final-newline);
//     if the vocabulary says to add a BOS token (llama_vocab_get_add_bos, i.e. GGUF
//     tokenizer.ggml.add_bos_token), one BOS is put in front of the stream, as
//     common_tokenize(..., add_special = true) does;
//   - the stream is cut into floor(T / N) consecutive windows of N tokens; each window is
//     evaluated from scratch (the sequence's KV cache cleared) and, with a BOS, the window's
//     first token is replaced by it;
//   - only the second half of each window is scored: for positions j in [floor(N/2), N-1) the
//     log-probability of token j+1 given tokens 0..j, log softmax of the raw logits;
//   - perplexity = exp(mean NLL); the standard error of the mean NLL is llama.cpp's,
//     sqrt((E[nll^2] - E[nll]^2) / (S - 1)).
//
// Usage: node llama_perplexity.mjs MODEL.gguf TEXT.txt --ctx N [--tokens-out FILE] [--json]
//        [--threads K] [--full-logits] [--strip-final-newline] [--verbose]
//
// CPU only; never downloads or builds anything: it uses node-llama-cpp's local build if one was
// made in its node_modules folder, else the prebuilt @node-llama-cpp/linux-x64 binary, else
// fails (the output names which binary ran).
// One thread by default: ggml's worker threads spin at their barriers, and on a small, busy
// machine (2 cores shared with a build) 2-4 threads made a window 5-30 times slower than one.
// "node-llama-cpp" is resolved from the working directory's node_modules (or NODE_PATH).
import fs from "node:fs";
import process from "node:process";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

function usage(msg) {
    if (msg)
        process.stderr.write(`llama_perplexity: ${msg}\n`);
    process.stderr.write("usage: node llama_perplexity.mjs MODEL.gguf TEXT.txt --ctx N [--tokens-out FILE] [--json]\n" +
                         "       [--threads K] [--full-logits] [--strip-final-newline] [--verbose]\n");
    process.exit(2);
}

function parseArgs(argv) {
    const o = { positional: [], ctx: 0, tokensOut: null, json: false, threads: 1, fullLogits: false,
                stripFinalNewline: false, verbose: false };
    for (let i = 0; i < argv.length; ++i) {
        const a = argv[i];
        const value = () => {
            if (i + 1 >= argv.length)
                usage(`${a} needs a value`);
            return argv[++i];
        };
        if (a === "--ctx") o.ctx = Number(value());
        else if (a === "--tokens-out") o.tokensOut = value();
        else if (a === "--threads") o.threads = Number(value());
        else if (a === "--json") o.json = true;
        else if (a === "--full-logits") o.fullLogits = true;
        else if (a === "--strip-final-newline") o.stripFinalNewline = true;
        else if (a === "--verbose") o.verbose = true;
        else if (a === "-h" || a === "--help") usage();
        else if (a.startsWith("--")) usage(`unknown option ${a}`);
        else o.positional.push(a);
    }
    if (o.positional.length !== 2)
        usage("expected MODEL.gguf and TEXT.txt");
    if (!Number.isInteger(o.ctx) || o.ctx < 4)
        usage("--ctx N: a window of N tokens, at least 4");
    if (!Number.isInteger(o.threads) || o.threads < 1)
        usage("--threads K: a number of threads, at least 1");
    return o;
}

// node-llama-cpp from the working directory's node_modules first (tests/gguf when run there),
// then the usual resolution (NODE_PATH, the script's own folder and its parents).
async function importNodeLlamaCpp() {
    try {
        const require = createRequire(path.join(process.cwd(), "noop.js"));
        return await import(pathToFileURL(require.resolve("node-llama-cpp")).href);
    } catch {
        try {
            return await import("node-llama-cpp");
        } catch (e) {
            process.stderr.write("llama_perplexity: node-llama-cpp not found (run `npm ci --omit=optional` in tests/gguf " +
                                 "and run the script there, or set NODE_PATH to a node_modules holding it): " +
                                 `${e?.message ?? e}\n`);
            process.exit(1);
        }
    }
}

const seconds = (t0) => (performance.now() - t0) / 1000;

async function main() {
    process.stdout.on("error", (e) => { if (e.code === "EPIPE") process.exit(0); throw e; }); // e.g. piped into head
    const opt = parseArgs(process.argv.slice(2));
    const [modelPath, textPath] = opt.positional;
    const N = opt.ctx;
    const t0 = performance.now();

    const { getLlama, LlamaLogLevel, readGgufFileInfo, getModuleVersion } = await importNodeLlamaCpp();
    const version = await getModuleVersion().catch(() => "?");

    // llama.cpp's log, kept to be shown when something fails (or always with --verbose).
    const log = [];
    const logger = (level, message) => {
        const line = `[${level}] ${String(message).replace(/\n$/, "")}`;
        log.push(line);
        if (opt.verbose)
            process.stderr.write(line + "\n");
    };
    const fail = async (what, err) => {
        await new Promise((resolve) => setTimeout(resolve, 200)); // llama.cpp's last log lines arrive asynchronously
        process.stderr.write(`llama_perplexity: ${what}: ${err?.message ?? err}\n`);
        if (!opt.verbose && log.length > 0)
            process.stderr.write("llama.cpp's log:\n" + log.slice(-60).join("\n") + "\n");
        process.exit(1);
    };

    let llama, model, context;
    try {
        llama = await getLlama({
            gpu: false,               // CPU only
            build: "never",           // a local build or a prebuilt binary, never compile
            skipDownload: true,       // never fetch llama.cpp's source
            usePrebuiltBinaries: true,
            progressLogs: false,
            logLevel: opt.verbose ? LlamaLogLevel.info : LlamaLogLevel.warn,
            logger,
            maxThreads: opt.threads,
        });
    } catch (e) {
        await fail("no usable llama.cpp binary (node-llama-cpp with its prebuilt @node-llama-cpp/linux-x64 package)", e);
    }

    let ggufAddBos = null;
    try {
        const info = await readGgufFileInfo(modelPath, { readTensorInfo: false });
        ggufAddBos = info.metadata?.tokenizer?.ggml?.add_bos_token ?? null;
    } catch (e) {
        await fail(`cannot read ${modelPath} as GGUF`, e);
    }

    const tLoad = performance.now();
    try {
        model = await llama.loadModel({ modelPath, gpuLayers: 0 });
    } catch (e) {
        await fail(`llama.cpp refused ${modelPath}`, e);
    }
    const loadSeconds = seconds(tLoad);

    // The text as llama.cpp's tools read it (bytes as UTF-8); llama-perplexity's -f drops one
    // trailing newline, which --strip-final-newline mimics.
    let text = fs.readFileSync(textPath, "utf8");
    if (opt.stripFinalNewline && text.endsWith("\n"))
        text = text.slice(0, -1);

    // model.tokenize(text, false) is common_tokenize(vocab, text, add_special = false,
    // parse_special = false): no BOS/EOS added, "<|endoftext|>" in the text stays plain text.
    const tTok = performance.now();
    const textTokens = Array.from(model.tokenize(text, false));
    const tokenizeSeconds = seconds(tTok);
    if (opt.tokensOut)
        fs.writeFileSync(opt.tokensOut, JSON.stringify(textTokens) + "\n");

    const addBos = model.tokens.shouldPrependBosToken; // llama_vocab_get_add_bos && a BOS exists
    const bos = model.tokens.bos;
    if (model.tokens.shouldAppendEosToken)
        await fail("vocabulary", new Error("it adds an EOS token; llama.cpp's perplexity tool refuses such a model"));
    const tokens = addBos ? [bos, ...textTokens] : textTokens;

    const windows = Math.floor(tokens.length / N);
    if (windows < 1)
        await fail("text", new Error(`${tokens.length} tokens are fewer than one window of ${N}`));
    const nVocab = Array.from(model.iterateAllTokens()).length;

    try {
        context = await model.createContext({
            contextSize: N,
            batchSize: N,      // a window in one decode
            sequences: 1,
            flashAttention: false,
            threads: opt.threads,
        });
    } catch (e) {
        await fail(`cannot create a context of ${N} tokens`, e);
    }
    const sequence = context.getSequence();

    const first = Math.floor(N / 2); // llama.cpp's n_ctx/2
    const logSumExp = (iterable) => {
        const values = Array.from(iterable);
        let max = -Infinity;
        for (const v of values) max = Math.max(max, v);
        let z = 0;
        for (const v of values) z += Math.exp(v - max);
        return { max, z, lse: max + Math.log(z) };
    };

    // Which outputs this node-llama-cpp gives at a position: 3.22 returns raw logits and their
    // total weight; 3.21 only the probabilities. Probed on the first token, then cleared.
    let mode;
    {
        await sequence.clearHistory();
        const probe = await sequence.controlledEvaluate([[tokens[0], { generateNext: { probabilities: true, logits: true, totalLogitWeight: true } }]]);
        const next = probe[0]?.next;
        if (next?.logits instanceof Map && typeof next.totalLogitWeight === "number")
            mode = opt.fullLogits ? "full logits" : "logits";
        else if (next?.probabilities instanceof Map && !opt.fullLogits)
            mode = "probabilities";
        else
            await fail("node-llama-cpp", new Error(opt.fullLogits ? "this version gives no logits (--full-logits needs 3.22 or later)"
                                                           : "controlledEvaluate gave neither logits nor probabilities"));
    }

    // What to ask for at a scored position. "logits": the raw logits (the sampler chain that
    // node-llama-cpp runs there is greedy only, which selects a token but changes no logit) of
    // the target and of the top token, and sum(exp(logit - max logit)) over the whole vocabulary.
    // "full logits" (--full-logits): the whole row, summed here in double precision (slower).
    // "probabilities" (node-llama-cpp 3.21): the whole softmax row, computed by node-llama-cpp in
    // single precision from the raw logits.
    const request = (target) => ({
        generateNext: mode === "logits" ? { logits: { filter: { tokens: [target], includeTop: 1 } }, totalLogitWeight: true }
                    : mode === "full logits" ? { logits: true }
                    : { probabilities: true },
    });
    const nllOf = (next, target) => {
        if (mode === "probabilities")
            return next.probabilities?.has(target) ? -Math.log(next.probabilities.get(target)) : NaN;
        if (!next.logits?.has(target))
            return NaN;
        if (mode === "full logits")
            return logSumExp(next.logits.values()).lse - next.logits.get(target);
        const { max } = logSumExp(next.logits.values());
        return max + Math.log(next.totalLogitWeight) - next.logits.get(target);
    };

    let sum = 0, sumSq = 0, scored = 0;
    let check = null;
    const tEval = performance.now();
    for (let w = 0; w < windows; ++w) {
        const start = w * N;
        const window = tokens.slice(start, start + N);
        if (addBos)
            window[0] = bos;
        await sequence.clearHistory();
        // Tokens 0..N-2 only: the last one is a target, never an input whose logits are used (the
        // attention is causal, so the logits at 0..N-2 are those of the whole window), and a
        // node-llama-cpp sequence filled to its last cell shifts its context before the last token.
        const input = window.slice(0, N - 1).map((t, j) => (j >= first ? [t, request(tokens[start + j + 1])] : t));
        if (w === 0) {
            // Once: the full distribution at the first scored position, to show that these are
            // the softmax of the raw logits (they sum to 1 over the whole vocabulary).
            input[first] = [window[first], { generateNext: { probabilities: true, logits: true, totalLogitWeight: true } }];
        }
        const out = await sequence.controlledEvaluate(input);
        if (sequence.nextTokenIndex !== N - 1 || sequence.contextTokens.some((t, j) => t !== window[j]))
            await fail(`window ${w}`, new Error("the sequence does not hold exactly the window (context shift?)"));
        for (let j = first; j < N - 1; ++j) {
            const next = out[j]?.next;
            const target = tokens[start + j + 1];
            if (next == null)
                await fail(`window ${w}, position ${j}`, new Error("llama.cpp returned nothing"));
            let nll;
            if (w === 0 && j === first) {
                const probs = next.probabilities;
                let pSum = 0;
                for (const p of probs.values()) pSum += p;
                check = { position: j, entries: probs.size, vocabulary: nVocab, probabilitySum: pSum,
                          targetProbability: probs.get(target) };
                let bad = probs.size !== nVocab || Math.abs(pSum - 1) > 1e-4;
                if (next.logits instanceof Map) {
                    const { z, lse } = logSumExp(next.logits.values());
                    nll = lse - next.logits.get(target);
                    Object.assign(check, { logits: next.logits.size, softmaxOfLogits: Math.exp(-nll),
                                           totalLogitWeight: next.totalLogitWeight, sumExpLogits: z });
                    bad ||= next.logits.size !== nVocab ||
                            Math.abs(probs.get(target) - Math.exp(-nll)) > 1e-5 * Math.exp(-nll) + 1e-7;
                } else {
                    nll = -Math.log(probs.get(target));
                }
                if (bad)
                    await fail("probability check", new Error(JSON.stringify(check)));
            } else {
                nll = nllOf(next, target);
            }
            if (!Number.isFinite(nll))
                await fail(`window ${w}, position ${j}`, new Error(`no usable output for token ${target} (NLL ${nll})`));
            sum += nll;
            sumSq += nll * nll;
            ++scored;
        }
    }
    const evalSeconds = seconds(tEval);

    const meanNll = sum / scored;
    const variance = sumSq / scored - meanNll * meanNll;
    const stdErr = variance > 0 && scored > 1 ? Math.sqrt(variance / (scored - 1)) : 0;
    const perplexity = Math.exp(meanNll);

    const result = {
        model: modelPath, text: textPath, ctx: N, perplexity, perplexityStdErr: perplexity * stdErr,
        meanNll, stdErr, windows, scored, tokens: tokens.length, textTokens: textTokens.length,
        addBos, bos: addBos ? bos : null, ggufAddBosToken: ggufAddBos, vocabulary: nVocab,
        outputs: mode, nodeLlamaCpp: version, binary: llama.buildType, llamaCpp: llama.llamaCppRelease?.release ?? null,
        threads: opt.threads, check,
        seconds: { load: loadSeconds, tokenize: tokenizeSeconds, evaluate: evalSeconds, total: seconds(t0) },
    };
    if (opt.json) {
        process.stdout.write(JSON.stringify(result) + "\n");
    } else {
        process.stdout.write(`perplexity ${perplexity.toFixed(4)} +/- ${(perplexity * stdErr).toFixed(4)}\n`);
        process.stdout.write(`mean_nll ${meanNll.toFixed(6)} +/- ${stdErr.toFixed(6)}\n`);
        process.stdout.write(`windows ${windows}\n`);
        process.stdout.write(`scored ${scored}\n`);
        process.stdout.write(`tokens ${tokens.length}${addBos ? ` (a BOS, ${bos}, and ${textTokens.length} of the text)` : ""}\n`);
        process.stdout.write(`llama.cpp ${result.llamaCpp} (${llama.buildType} binary of node-llama-cpp ${version}), ` +
                             `${opt.threads} thread(s), outputs: ${mode}\n`);
        process.stdout.write(`seconds load ${loadSeconds.toFixed(2)} tokenize ${tokenizeSeconds.toFixed(2)} ` +
                             `evaluate ${evalSeconds.toFixed(2)} total ${seconds(t0).toFixed(2)}\n`);
    }

    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

main().catch((e) => {
    process.stderr.write(`llama_perplexity: ${e?.stack ?? e}\n`);
    process.exit(1);
});
