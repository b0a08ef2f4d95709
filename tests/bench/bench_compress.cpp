// Compression benchmark: GB/s of float32 input for the quantizers and pruners, next to a
// memcpy of the same bytes measured in the same run (the machine is shared and noisy: only
// same-run ratios mean much). Each figure is the best of repeated runs within a time budget.
//
// Usage: bench_compress [--seconds S] [--reference]   (--reference also times the slow
// scalar references of the mse and pruning paths on the small matrix)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "compress/Pruner.h"
#include "compress/Quantizer.h"
#include "model/Tensor.h"
#include "runtime/ops/ConvKernels.h"

using namespace leger;
using Clock = std::chrono::steady_clock;

namespace {

double budget = 0.6;
volatile std::size_t sink = 0;

/// Best seconds per run of f over at least 3 runs and `budget` seconds (after one warm-up).
double bestSeconds(const std::function<void()>& f)
{
    f();
    double best = 1e300;
    int runs = 0;
    const auto start = Clock::now();
    do {
        const auto a = Clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(Clock::now() - a).count());
        ++runs;
    } while (runs < 3 || std::chrono::duration<double>(Clock::now() - start).count() < budget);
    return best;
}

LayerSetting intSetting(int bits, Granularity g, Clipping clip)
{
    LayerSetting s;
    s.format = WeightFormat::Int;
    s.bits = bits;
    s.granularity = g;
    s.groupSize = 32;
    s.clip = clip;
    return s;
}

void run(std::int64_t rows, std::int64_t cols, bool withReference)
{
    const std::int64_t n = rows * cols;
    const double bytes = 4.0 * static_cast<double>(n);
    std::vector<float> w(static_cast<std::size_t>(n)), copy(w.size());
    Tensor deqTensor(DType::Float32, {rows, cols}); // 64-byte aligned, as the engine's buffers
    float* deq = deqTensor.data<float>();
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0.0f, 0.05f);
    for (float& x : w)
        x = dist(rng);

    std::printf("\nmatrix %lld x %lld (%.1f MB of float32)\n", static_cast<long long>(rows),
                static_cast<long long>(cols), bytes / 1e6);
    std::printf("%-46s %10s %10s\n", "", "GB/s", "x memcpy");
    const double memcpyGbs = bytes / bestSeconds([&] {
        std::memcpy(copy.data(), w.data(), w.size() * 4);
        sink = sink + static_cast<std::size_t>(copy[7] != 0.0f);
    }) / 1e9;
    const auto report = [&](const char* what, double seconds) {
        const double gbs = bytes / seconds / 1e9;
        std::printf("%-46s %10.2f %10.3f\n", what, gbs, gbs / memcpyGbs);
        std::fflush(stdout);
    };
    std::printf("%-46s %10.2f %10.3f\n", "memcpy", memcpyGbs, 1.0);

    // Fast figures quantize into one reused CompressedWeight (as the engine's cache does; a
    // fresh one costs page faults on its new buffers, shown once as "fresh").
    CompressedWeight reused;
    const auto quant = [&](const char* what, const LayerSetting& s, bool dequant, bool reference, bool fresh = false) {
        report(what, bestSeconds([&] {
                   CompressedWeight local;
                   if (reference)
                       local = Quantizer::quantizeReference(w.data(), rows, cols, {}, s);
                   else if (fresh)
                       local = Quantizer::quantize(w.data(), rows, cols, {}, s);
                   else
                       Quantizer::quantizeInto(w.data(), rows, cols, {}, s, reused);
                   const CompressedWeight& c = reference || fresh ? local : reused;
                   if (dequant) {
                       if (reference)
                           Quantizer::dequantizeReference(c, deq);
                       else
                           Quantizer::dequantize(c, deq);
                   }
                   sink = sink + c.codes.size() + c.halves.size();
               }));
    };
    const LayerSetting int8 = intSetting(8, Granularity::Channel, Clipping::MinMax);
    quant("int8 channel sym minmax: quantize", int8, false, false);
    quant("int8 channel sym minmax: quantize (fresh)", int8, false, false, true);
    quant("int8 channel sym minmax: quantize (reference)", int8, false, true);
    quant("int8 channel sym minmax: quantize+dequantize", int8, true, false);
    quant("int8 channel sym minmax: q+dq (reference)", int8, true, true);
    report("int8 channel sym minmax: q+dq fused", bestSeconds([&] {
               Quantizer::quantizeInto(w.data(), rows, cols, {}, int8, reused, deq);
               sink = sink + reused.codes.size();
           }));
    LayerSetting asym = int8;
    asym.symmetric = false;
    quant("int8 channel asym minmax: quantize+dequantize", asym, true, false);
    const LayerSetting g32 = intSetting(4, Granularity::Group, Clipping::MinMax);
    quant("int4 g32 sym minmax: quantize", g32, false, false);
    quant("int4 g32 sym minmax: quantize+dequantize", g32, true, false);
    LayerSetting g32asym = g32;
    g32asym.symmetric = false;
    quant("int4 g32 asym minmax: quantize", g32asym, false, false);
    const LayerSetting g32mse = intSetting(4, Granularity::Group, Clipping::Mse);
    quant("int4 g32 sym mse: quantize", g32mse, false, false);
    if (withReference)
        quant("int4 g32 sym mse: quantize (reference)", g32mse, false, true);
    LayerSetting g32mseAsym = g32mse;
    g32mseAsym.symmetric = false;
    quant("int4 g32 asym mse: quantize", g32mseAsym, false, false);
    LayerSetting f16;
    f16.format = WeightFormat::Float16;
    quant("float16: quantize", f16, false, false);
    quant("float16: quantize (reference)", f16, false, true);

    const auto prune = [&](const char* what, const LayerSetting& s, bool reference) {
        report(what, bestSeconds([&] {
                   const auto m = reference ? Pruner::keepMaskReference(w.data(), rows, cols, s)
                                            : Pruner::keepMask(w.data(), rows, cols, s);
                   sink = sink + m.size();
               }));
    };
    LayerSetting un;
    un.sparsity = 0.5;
    prune("unstructured 50%: keep mask", un, false);
    if (withReference)
        prune("unstructured 50%: keep mask (reference, sort)", un, true);
    LayerSetting nm;
    nm.pattern = SparsityPattern::N2M4;
    prune("2:4: keep mask", nm, false);
    if (withReference)
        prune("2:4: keep mask (reference)", nm, true);
    LayerSetting ch;
    ch.pattern = SparsityPattern::Channel;
    ch.sparsity = 0.5;
    prune("channel 50%: keep mask", ch, false);
}

} // namespace

int main(int argc, char** argv)
{
    bool reference = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--seconds" && i + 1 < argc)
            budget = std::stod(argv[++i]);
        else if (a == "--reference")
            reference = true;
        else {
            std::fprintf(stderr, "usage: bench_compress [--seconds S] [--reference]\n");
            return 2;
        }
    }
    std::printf("kernels: %s (LEGER_ISA=baseline|avx2 lowers it)\n", ops::convk::isaName(ops::convk::isa()));
    run(4096, 4096, false);
    run(1024, 1024, reference);
    return 0;
}
