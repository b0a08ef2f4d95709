// leger-cli: the engine without a window. Parses arguments and prints; the work is in leger_core.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <cblas.h>

#include "check/ConformanceSuite.h"
#include "io/NpyIO.h"
#include "io/OnnxReader.h"
#include "model/Layer.h"
#include "model/Model.h"
#include "runtime/Executor.h"
#include "runtime/ShapeInference.h"
#include "util/Error.h"

using namespace leger;

namespace {

constexpr const char* kUsage = R"(Usage: leger-cli COMMAND [OPTIONS]

Commands:
  info MODEL [--shapes [--shape NAME=D0,D1,...]]
                                  inputs/outputs with shapes, op histogram,
                                  compressible layers with shapes and parameters;
                                  --shapes adds every node's output shapes and FLOPs
                                  for concrete input shapes (symbolic dims = 1 unless
                                  --shape gives them), found by one run on zeros
  run MODEL --input NAME=FILE.npy [--input ...] --output-dir DIR
                                  runs the model; writes DIR/<output>.npy per output
                                  (characters outside [A-Za-z0-9._-] become '_';
                                  names over 200 bytes are cut and end in a hash)
  conformance DIR [--filter TEXT] [--verbose]
                                  runs the ONNX backend node tests under DIR and prints
                                  a table per op and "conformance: N passed, M failed,
                                  K unsupported"; exit status 1 if any failed

Options:
  --threads N                     OpenBLAS threads (default 1)
  -h, --help                      this help
  --version                       the version
)";

struct Args {
    std::vector<std::string> positional;
    std::multimap<std::string, std::string> options;
    std::vector<std::string> flags;

    bool flag(const std::string& f) const
    {
        return std::find(flags.begin(), flags.end(), f) != flags.end();
    }
    std::string option(const std::string& name, const std::string& fallback = {}) const
    {
        auto it = options.find(name);
        return it == options.end() ? fallback : it->second;
    }
};

/// Options that take a value; everything else starting with "--" is a flag.
const std::vector<std::string> kValued = {"--input", "--output-dir", "--filter", "--threads", "--shape"};

Args parse(int argc, char** argv, int first)
{
    Args a;
    for (int i = first; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) == 0) {
            const auto eq = s.find('=');
            std::string key = eq == std::string::npos ? s : s.substr(0, eq);
            if (std::find(kValued.begin(), kValued.end(), key) != kValued.end()) {
                if (eq != std::string::npos)
                    a.options.emplace(key, s.substr(eq + 1));
                else if (i + 1 < argc)
                    a.options.emplace(key, argv[++i]);
                else
                    throw Error("option " + key + " needs a value");
            } else if (s == "--verbose" || s == "--shapes") {
                a.flags.push_back(s);
            } else {
                throw Error("unknown option " + s);
            }
        } else {
            a.positional.push_back(s);
        }
    }
    return a;
}

std::string safeFileName(const std::string& name)
{
    std::string out = name;
    for (char& c : out)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
            c = '_';
    if (out.empty() || out == "." || out == "..")
        out = "_" + out;
    // File names are limited to 255 bytes: shorten long names, keeping them distinct by a hash.
    if (out.size() > 200) {
        char hash[17];
        std::snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(name));
        out = out.substr(0, 183) + "_" + hash;
    }
    return out;
}

int cmdInfo(const Args& a)
{
    if (a.positional.size() != 1)
        throw Error("usage: leger-cli info MODEL");
    const Model m = OnnxReader::readModel(a.positional[0]);
    std::printf("model:    %s\n", m.path.c_str());
    std::printf("producer: %s\n", m.producer.empty() ? "(unknown)" : m.producer.c_str());
    std::printf("opsets:  ");
    for (const auto& [domain, v] : m.opsets)
        std::printf(" %s=%d", domain.empty() ? "ai.onnx" : domain.c_str(), v);
    std::printf("\nsize:     %lld bytes\n\ninputs:\n", static_cast<long long>(m.fileBytes));
    for (const auto& in : m.graph.inputs)
        std::printf("  %-30s %-8s %s\n", in.name.c_str(), std::string(dtypeName(in.dtype)).c_str(),
                    in.shapeString().c_str());
    std::printf("outputs:\n");
    for (const auto& out : m.graph.outputs)
        std::printf("  %-30s %-8s %s\n", out.name.c_str(), std::string(dtypeName(out.dtype)).c_str(),
                    out.shapeString().c_str());
    std::map<std::string, int> hist;
    for (const auto& n : m.graph.nodes)
        ++hist[(n.domain.empty() ? "" : n.domain + ".") + n.opType];
    std::printf("\nops (%zu nodes):\n", m.graph.nodes.size());
    for (const auto& [op, count] : hist)
        std::printf("  %-30s %6d\n", op.c_str(), count);
    const auto layers = Layer::find(m);
    std::int64_t layerParams = 0, allParams = 0;
    std::printf("\ncompressible layers (%zu):\n", layers.size());
    std::printf("  %-40s %-14s %-22s %12s\n", "weight", "op", "shape", "parameters");
    for (const auto& l : layers) {
        std::printf("  %-40s %-14s %-22s %12lld\n", l.name.c_str(), l.opType.c_str(), shapeToString(l.shape).c_str(),
                    static_cast<long long>(l.parameters));
        layerParams += l.parameters;
    }
    for (const auto& [name, t] : m.graph.initializers)
        allParams += t.size();
    std::printf("\ntotals: %lld parameters in compressible layers, %lld in all %zu constant tensors\n",
                static_cast<long long>(layerParams), static_cast<long long>(allParams), m.graph.initializers.size());
    if (!a.flag("--shapes"))
        return 0;
    std::map<std::string, Shape> shapes;
    for (auto [it, end] = a.options.equal_range("--shape"); it != end; ++it) {
        const auto eq = it->second.find('=');
        if (eq == std::string::npos)
            throw Error("--shape expects NAME=D0,D1,..., got '" + it->second + "'");
        Shape s;
        std::string dims = it->second.substr(eq + 1);
        for (std::size_t p = 0; p < dims.size();) {
            std::size_t used = 0;
            try {
                s.push_back(std::stoll(dims.substr(p), &used));
            } catch (...) {
                throw Error("--shape " + it->second + ": dimensions must be integers");
            }
            p += used + (p + used < dims.size() && dims[p + used] == ',' ? 1 : 0);
            if (used == 0)
                break;
        }
        shapes[it->second.substr(0, eq)] = s;
    }
    std::vector<NodeShapes> nodes;
    try {
        nodes = inferShapes(m, shapes);
    } catch (const Error& e) {
        throw Error(m.path + ": " + e.what());
    }
    std::int64_t flops = 0;
    std::printf("\nnode shapes:\n  %-40s %-18s %-28s %14s\n", "node", "op", "output shapes", "FLOPs");
    for (const auto& n : nodes) {
        std::string shapeText;
        for (const auto& s : n.shapes)
            shapeText += (shapeText.empty() ? "" : " ") + shapeToString(s);
        std::printf("  %-40s %-18s %-28s %14lld\n", n.node.c_str(), n.opType.c_str(), shapeText.c_str(),
                    static_cast<long long>(n.flops));
        flops += n.flops;
    }
    std::printf("\ntotal: %.4f GFLOP per run (matrix products and convolutions)\n", static_cast<double>(flops) / 1e9);
    return 0;
}

int cmdRun(const Args& a)
{
    if (a.positional.size() != 1)
        throw Error("usage: leger-cli run MODEL --input NAME=FILE.npy [--input ...] --output-dir DIR");
    const std::string outDir = a.option("--output-dir");
    if (outDir.empty())
        throw Error("run: --output-dir DIR is required");
    const Model m = OnnxReader::readModel(a.positional[0]);
    std::unique_ptr<Executor> compiled;
    try {
        compiled = std::make_unique<Executor>(m);
    } catch (const Error& e) {
        throw Error(m.path + ": " + e.what()); // the executor knows nodes, not files
    }
    Executor& exec = *compiled;
    std::map<std::string, std::string> files;
    for (auto [it, end] = a.options.equal_range("--input"); it != end; ++it) {
        const auto eq = it->second.find('=');
        if (eq == std::string::npos)
            throw Error("--input expects NAME=FILE.npy, got '" + it->second + "'");
        files[it->second.substr(0, eq)] = it->second.substr(eq + 1);
    }
    const auto& names = exec.inputNames();
    for (const auto& [name, file] : files)
        if (std::find(names.begin(), names.end(), name) == names.end())
            throw Error(m.path + ": the model has no input named '" + name + "'");
    std::vector<Tensor> tensors;
    for (const auto& name : names) {
        auto it = files.find(name);
        if (it == files.end())
            throw Error(m.path + ": input '" + name + "' was not given (--input " + name + "=FILE.npy)");
        tensors.push_back(NpyIO::readNpy(it->second));
    }
    std::vector<const Tensor*> inputs;
    for (const auto& t : tensors)
        inputs.push_back(&t);
    try {
        exec.run(inputs);
    } catch (const Error& e) {
        throw Error(m.path + ": " + e.what());
    }
    std::filesystem::create_directories(outDir);
    for (std::size_t i = 0; i < exec.outputNames().size(); ++i) {
        const std::string file = (std::filesystem::path(outDir) / (safeFileName(exec.outputNames()[i]) + ".npy")).string();
        NpyIO::writeNpy(file, exec.output(i));
        std::fprintf(stderr, "wrote %s %s\n", file.c_str(), shapeToString(exec.output(i).shape()).c_str());
    }
    return 0;
}

int cmdConformance(const Args& a)
{
    if (a.positional.size() != 1)
        throw Error("usage: leger-cli conformance DIR [--filter TEXT]");
    const bool verbose = a.flag("--verbose");
    const auto results = ConformanceSuite::runAll(a.positional[0], a.option("--filter"), {},
                                                  [verbose](const ConformanceSuite::Result& r) {
                                                      if (verbose)
                                                          std::fprintf(stderr, "%-60s %s\n", r.test.c_str(),
                                                                       r.status == ConformanceSuite::Status::Passed ? "ok"
                                                                       : r.status == ConformanceSuite::Status::Failed
                                                                           ? "FAILED"
                                                                           : "unsupported");
                                                  });
    std::fputs(ConformanceSuite::report(results).c_str(), stdout);
    for (const auto& r : results)
        if (r.status == ConformanceSuite::Status::Failed)
            return 1;
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!std::strcmp(argv[1], "--version")) {
        std::printf("leger-cli %s\n", LEGER_VERSION);
        return 0;
    }
    const std::string cmd = argv[1];
    try {
        const Args args = parse(argc, argv, 2);
        openblas_set_num_threads(std::max(1, std::stoi(args.option("--threads", "1"))));
        if (cmd == "info")
            return cmdInfo(args);
        if (cmd == "run")
            return cmdRun(args);
        if (cmd == "conformance")
            return cmdConformance(args);
        std::fprintf(stderr, "leger-cli: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "leger-cli %s: error: %s\n", cmd.c_str(), e.what());
        return 1;
    }
}
