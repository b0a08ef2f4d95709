// Runtime benchmark: samples/s and achieved GFLOP/s of Leger's runtime on real models at
// batch 1 and 64, next to this machine's SGEMM rate and ONNX Runtime on the same model,
// inputs and thread count, measured in the same process run (the machine is shared and
// noisy, so only same-run ratios mean anything).
//
// Usage: bench_runtime [--threads N] [--seconds S] [--profile] [--ort-script PATH] MODEL.onnx [MODEL.onnx ...]
// tests/bench/run-bench.sh builds everything and runs it on the sample and a MobileNetV2.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <cblas.h>

#include "io/NpyIO.h"
#include "io/OnnxReader.h"
#include "model/Model.h"
#include "runtime/Executor.h"
#include "runtime/FlopCount.h"

using namespace leger;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

/// SGEMM GFLOP/s for square n x n, the machine's practical peak through OpenBLAS.
double sgemmGflops(int n, double budget)
{
    std::vector<float> a(static_cast<std::size_t>(n) * n, 0.5f), b(a), c(a);
    int reps = 0;
    const auto start = Clock::now();
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                    c.data(), n);
        ++reps;
    } while (seconds(start, Clock::now()) < budget);
    return 2.0 * n * n * n * reps / seconds(start, Clock::now()) / 1e9;
}

struct Measure {
    double msPerRun = 0;
    int runs = 0;
};

template <class F> Measure timeIt(F&& f, double budget)
{
    f(); // warm-up: buffers grow to size, caches fill
    Measure m;
    const auto start = Clock::now();
    do {
        f();
        ++m.runs;
    } while (seconds(start, Clock::now()) < budget || m.runs < 3);
    m.msPerRun = seconds(start, Clock::now()) * 1000.0 / m.runs;
    return m;
}

/// Runs the node script of tests/bench with onnxruntime-node; returns ms per run, or < 0.
double ortMsPerRun(const std::string& script, const std::string& model, const std::string& inputName,
                   const std::string& inputFile, int threads, int iters, const std::string& outDir)
{
    const std::string cmd = "node '" + script + "' '" + model + "' --input '" + inputName + "=" + inputFile +
                            "' --threads " + std::to_string(threads) + " --iters " + std::to_string(iters) +
                            " --output-dir '" + outDir + "' 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p)
        return -1;
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, p))
        out += buf;
    if (pclose(p) != 0)
        return -1;
    const auto at = out.find("\"ms_per_run\":");
    return at == std::string::npos ? -1 : std::atof(out.c_str() + at + 13);
}

} // namespace

int main(int argc, char** argv)
{
    int threads = 1;
    double budget = 3.0;
    bool profile = false;
    Executor::Options options;
    std::string ortScript = std::string(LEGER_SOURCE_DIR) + "/tests/bench/ort_bench.js";
    std::vector<std::string> models;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc)
            threads = std::atoi(argv[++i]);
        else if (a == "--seconds" && i + 1 < argc)
            budget = std::atof(argv[++i]);
        else if (a == "--profile")
            profile = true;
        else if (a == "--slice-kb" && i + 1 < argc)
            options.sliceBytes = static_cast<std::size_t>(std::atol(argv[++i])) << 10;
        else if (a == "--tail-kb" && i + 1 < argc)
            options.sliceTailBytes = static_cast<std::size_t>(std::atol(argv[++i])) << 10;
        else if (a == "--no-optimize")
            options.optimize = false;
        else if (a == "--ort-script" && i + 1 < argc)
            ortScript = argv[++i];
        else
            models.push_back(a);
    }
    if (models.empty()) {
        std::fprintf(stderr, "usage: bench_runtime [--threads N] [--seconds S] [--profile] [--slice-kb K] [--tail-kb K] "
                             "[--no-optimize] [--ort-script PATH] MODEL.onnx...\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    const double sgemm = sgemmGflops(1024, 1.0);
    std::printf("threads %d; OpenBLAS SGEMM 1024^3: %.1f GFLOP/s\n\n", threads, sgemm);
    std::printf("%-28s %5s %12s %9s %9s %12s %9s %10s %10s\n", "model", "batch", "GFLOP/sample", "ms/batch",
                "sample/s", "GFLOP/s", "ORT ms", "Leger/ORT", "max|diff|");
    const fs::path tmp = fs::temp_directory_path() / ("leger-bench-" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    int status = 0;
    for (const auto& path : models) {
        const Model model = OnnxReader::readModel(path);
        if (model.graph.inputs.size() != 1) {
            std::fprintf(stderr, "%s: benchmark handles single-input models only\n", path.c_str());
            status = 1;
            continue;
        }
        const ValueInfo& in = model.graph.inputs[0];
        Executor exec(model, options);
        for (std::int64_t batch : {1, 64}) {
            Shape shape;
            for (std::size_t d = 0; d < in.dims.size(); ++d)
                shape.push_back(d == 0 ? batch : (in.dims[d] > 0 ? in.dims[d] : 1));
            Tensor x(DType::Float32, shape);
            std::mt19937 rng(42);
            std::normal_distribution<float> dist;
            for (auto& v : x.span<float>())
                v = dist(rng);
            const Tensor* inputs[] = {&x};
            std::int64_t flops = 0;
            exec.setObserver([&](const Node& n, const KernelArgs& args) { flops += countFlops(n, args); });
            exec.run(inputs);
            exec.setObserver({});
            const Measure leger = timeIt([&] { exec.run(inputs); }, budget);

            const std::string inFile = (tmp / "input.npy").string();
            NpyIO::writeNpy(inFile, x);
            const int iters = std::max(3, leger.runs);
            const double ort = ortMsPerRun(ortScript, path, in.name, inFile, threads, iters, tmp.string());
            double maxDiff = -1;
            if (ort > 0) {
                const std::string outFile = (tmp / (exec.outputNames()[0] + ".npy")).string();
                if (fs::exists(outFile)) {
                    const Tensor ref = NpyIO::readNpy(outFile);
                    const Tensor& got = exec.output(0);
                    if (ref.shape() == got.shape() && ref.dtype() == DType::Float32 && got.dtype() == DType::Float32) {
                        maxDiff = 0;
                        for (std::int64_t i = 0; i < ref.size(); ++i)
                            maxDiff = std::max(maxDiff, double(std::abs(ref.data<float>()[i] - got.data<float>()[i])));
                    }
                }
            }
            const double gflopPerSample = static_cast<double>(flops) / batch / 1e9;
            const double samplesPerSec = batch * 1000.0 / leger.msPerRun;
            std::printf("%-28s %5lld %12.4f %9.2f %9.1f %12.1f %9.2f %10.2f %10.2g\n",
                        fs::path(path).filename().string().c_str(), static_cast<long long>(batch), gflopPerSample,
                        leger.msPerRun, samplesPerSec, gflopPerSample * samplesPerSec, ort,
                        ort > 0 ? ort / leger.msPerRun : 0.0, maxDiff);
            std::fflush(stdout);
            if (profile) {
                // Where the time goes, per op type, over a few more runs.
                exec.setProfiling(true);
                for (int r = 0; r < 3; ++r)
                    exec.run(inputs);
                std::vector<std::pair<double, std::string>> ops;
                double total = 0;
                for (const auto& [op, sec] : exec.profile()) {
                    ops.emplace_back(sec, op);
                    total += sec;
                }
                exec.setProfiling(false);
                std::sort(ops.rbegin(), ops.rend());
                for (const auto& [sec, op] : ops)
                    std::printf("    %-22s %8.2f ms/run %5.1f %%\n", op.c_str(), sec * 1000 / 3, 100 * sec / total);
            }
        }
    }
    fs::remove_all(tmp);
    std::printf("\nLeger/ORT > 1 means Leger is faster (ORT ms / Leger ms); ORT ms < 0: onnxruntime-node unavailable.\n");
    return status;
}
