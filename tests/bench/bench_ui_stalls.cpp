// Event-loop stalls of the GUI thread while the engine works (the goal: no stall over 50 ms).
// A 5 ms repeating timer records the gaps between its ticks, first with the engine idle, then
// while about 20 evaluate() requests per second of random plans and one sensitivity job run on
// the bundled sample and its 2000 images; prints the gaps, the results delivered and the time from
// a request to its first partial and to its complete result. On a shared machine a gap can be
// time the GUI thread waited for a CPU (Linux schedstat): printed apart.
//   build/tests/bench/bench_ui_stalls [seconds]   (QT_QPA_PLATFORM defaults to offscreen)
#include <QApplication>
#include <QElapsedTimer>
#include <QTimer>
#include <algorithm>
#include <cblas.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "compress/LayerSetting.h"
#include "compress/SizeReport.h"
#include "data/Dataset.h"
#include "data/Preprocessing.h"
#include "engine/EngineBridge.h"
#include "io/OnnxReader.h"
#include "model/Layer.h"
#include "model/Model.h"

using namespace leger;
using namespace leger::ui;
using Clock = std::chrono::steady_clock;

namespace {

double msSince(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

/// Nanoseconds this thread has run on a CPU (tick-sampled here: too coarse to use) and waited
/// on a run queue (runnable, but other threads ran), from Linux schedstat; -1 when unavailable. Tells stalls caused by other processes
/// on a shared machine from stalls of the GUI thread itself.
struct SchedStat {
    long long onCpu = -1, wait = -1;
};

SchedStat schedStat()
{
    SchedStat s;
    if (std::FILE* f = std::fopen("/proc/thread-self/schedstat", "r")) {
        if (std::fscanf(f, "%lld %lld", &s.onCpu, &s.wait) != 2)
            s = {};
        std::fclose(f);
    }
    return s;
}

struct Gap {
    double ms = 0;     // between two ticks
    double waitMs = 0; // of which it was runnable but other threads ran
};

/// Gaps between the ticks of a 5 ms timer.
class TickRecorder {
public:
    TickRecorder()
    {
        timer_.setTimerType(Qt::PreciseTimer);
        timer_.setInterval(5);
        QObject::connect(&timer_, &QTimer::timeout, [this] {
            const auto now = Clock::now();
            const SchedStat st = schedStat();
            if (running_) {
                const bool known = st.wait >= 0 && lastStat_.wait >= 0;
                gaps_.push_back({msSince(last_, now), known ? double(st.wait - lastStat_.wait) / 1e6 : 0.0});
            }
            last_ = now;
            lastStat_ = st;
            running_ = true;
        });
    }
    void start()
    {
        gaps_.clear();
        running_ = false;
        timer_.start();
    }
    std::vector<Gap> stop()
    {
        timer_.stop();
        return gaps_;
    }

private:
    QTimer timer_;
    std::vector<Gap> gaps_;
    Clock::time_point last_;
    SchedStat lastStat_;
    bool running_ = false;
};

double percentile(std::vector<double> v, double p)
{
    if (v.empty())
        return 0.0;
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

double mean(const std::vector<double>& v)
{
    return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

struct GapStats {
    double max = 0, p99 = 0, mean = 0;
    double maxWait = 0; // the GUI thread's run-queue wait within the longest gap
    double maxOwn = 0;              // the longest gap less its run-queue wait
    std::size_t ticks = 0;
};

GapStats stats(const std::vector<Gap>& gaps)
{
    GapStats s;
    std::vector<double> ms;
    for (const Gap& g : gaps) {
        ms.push_back(g.ms);
        if (g.ms > s.max) {
            s.max = g.ms;
            s.maxWait = g.waitMs;
        }
        s.maxOwn = std::max(s.maxOwn, g.ms - g.waitMs);
    }
    s.p99 = percentile(ms, 0.99);
    s.mean = mean(ms);
    s.ticks = gaps.size();
    return s;
}

/// Runs the event loop for ms milliseconds.
void spin(int ms)
{
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < ms)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 5);
}

std::vector<LayerSetting> randomPlan(std::mt19937& rng, std::size_t layers)
{
    std::vector<LayerSetting> plan(layers);
    for (LayerSetting& s : plan) {
        if (rng() % 6 == 0)
            continue;
        s.format = WeightFormat::Int;
        s.bits = 2 + static_cast<int>(rng() % 7);
        s.granularity = Granularity(rng() % 3);
        s.groupSize = 32 << (rng() % 3);
        s.symmetric = rng() % 2;
        if (rng() % 4 == 0)
            s.sparsity = 0.1 * static_cast<double>(rng() % 8);
    }
    return plan;
}

} // namespace

int main(int argc, char** argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    // The project's policy (as leger-cli's default): one OpenBLAS thread, in the worker.
    openblas_set_num_threads(1);
    QApplication app(argc, argv);
    const double seconds = argc > 1 ? std::max(1.0, std::atof(argv[1])) : 10.0;
    const int loadMs = static_cast<int>(seconds * 1000);
    const int idleMs = std::max(2000, loadMs / 2);

    const std::string path = LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.onnx";
    auto model = std::make_shared<Model>(OnnxReader::readModel(path));
    auto data = std::make_shared<const Dataset>(
        Dataset::read(LEGER_SOURCE_DIR "/resources/sample/fashion-mnist-test-2000-images-idx3-ubyte.gz"));
    const std::vector<Layer> layers = Layer::find(*model);
    auto size = std::make_shared<const SizeModel>(*model, layers);
    const Preprocessing pre = *Preprocessing::readSidecar(path);

    EngineBridge bridge;
    bool baselineDone = false;
    qint64 chunk = 0;
    QObject::connect(&bridge, &EngineBridge::sourceReady, [&](qint64, qint64 c) { chunk = c; });
    QObject::connect(&bridge, &EngineBridge::baselineEvaluated,
                     [&](const std::shared_ptr<const Evaluation>& e) { baselineDone = e->complete(); });
    bridge.setSource(model, data, pre, size);
    while (!baselineDone)
        spin(10);

    TickRecorder ticks;
    // Phase 1: the engine idle.
    ticks.start();
    spin(idleMs);
    const GapStats idle = stats(ticks.stop());

    // Phase 2: random plans at about 20 per second (0-100 ms apart) and a sensitivity job.
    std::mt19937 rng(11);
    struct Timing {
        Clock::time_point requested;
        double firstPartial = -1, complete = -1;
    };
    std::map<quint64, Timing> timings;
    std::size_t delivered = 0, partials = 0, completes = 0;
    QObject::connect(&bridge, &EngineBridge::evaluated, [&](quint64 g, const std::shared_ptr<const Evaluation>& e) {
        ++delivered;
        Timing& t = timings[g];
        const double ms = msSince(t.requested, Clock::now());
        if (e->complete()) {
            ++completes;
            t.complete = ms;
            if (t.firstPartial < 0)
                t.firstPartial = ms; // a single chunk: the complete result is the first
        } else {
            ++partials;
            if (t.firstPartial < 0)
                t.firstPartial = ms;
        }
    });
    bool jobDone = false;
    qint64 jobPoints = 0, jobTotal = 0;
    Clock::time_point jobEnd;
    QObject::connect(&bridge, &EngineBridge::jobProgress, [&](quint64, qint64 done, qint64 total, const QString&) {
        jobPoints = done;
        jobTotal = total;
    });
    QObject::connect(&bridge, &EngineBridge::sensitivityDone, [&](quint64, const std::shared_ptr<const SensitivityTable>&) {
        jobDone = true;
        jobEnd = Clock::now();
    });
    QTimer driver;
    driver.setSingleShot(true);
    QObject::connect(&driver, &QTimer::timeout, [&] {
        const quint64 g = bridge.evaluate(randomPlan(rng, layers.size()));
        timings[g].requested = Clock::now();
        driver.start(static_cast<int>(rng() % 101));
    });
    ticks.start();
    const auto loadStart = Clock::now();
    std::vector<LayerSetting> columns;
    for (const char* spec : {"int8", "int6", "int4-g32", "int4", "int3-g32", "int2-g32"})
        columns.push_back(parseSettingSpec(spec));
    bridge.startSensitivity(columns, QString());
    driver.start(0);
    spin(loadMs);
    driver.stop();
    const GapStats busy = stats(ticks.stop());
    const double busySeconds = msSince(loadStart, Clock::now()) / 1000.0;
    // Let the last request finish (not timed as stalls).
    const quint64 last = bridge.latestGeneration();
    for (int i = 0; i < 500 && timings[last].complete < 0; ++i)
        spin(10);

    std::vector<double> first, full;
    for (const auto& [g, t] : timings) {
        if (t.firstPartial >= 0)
            first.push_back(t.firstPartial);
        if (t.complete >= 0)
            full.push_back(t.complete);
    }
    std::printf("bench_ui_stalls: sample (6 layers, 2000 images, chunk %lld), %.1f s idle, %.1f s busy\n",
                static_cast<long long>(chunk), idleMs / 1000.0, busySeconds);
    std::printf("%-34s %10s %10s\n", "", "idle", "busy");
    std::printf("%-34s %10zu %10zu\n", "timer ticks (5 ms)", idle.ticks, busy.ticks);
    std::printf("%-34s %10.2f %10.2f   ratio %.2f\n", "max gap ms", idle.max, busy.max, busy.max / idle.max);
    std::printf("%-34s %10.2f %10.2f\n", "  of which it waited for a CPU ms", idle.maxWait, busy.maxWait);
    std::printf("%-34s %10.2f %10.2f\n", "max gap less CPU wait ms", idle.maxOwn, busy.maxOwn);
    std::printf("%-34s %10.2f %10.2f   ratio %.2f\n", "p99 gap ms", idle.p99, busy.p99, busy.p99 / idle.p99);
    std::printf("%-34s %10.2f %10.2f   ratio %.2f\n", "mean gap ms", idle.mean, busy.mean, busy.mean / idle.mean);
    std::printf("requests %zu (%.1f/s); evaluated delivered %zu (%zu partial, %zu complete)\n", timings.size(),
                static_cast<double>(timings.size()) / busySeconds, delivered, partials, completes);
    std::printf("request -> first partial ms: median %.1f, p90 %.1f (%zu requests reached one)\n",
                percentile(first, 0.5), percentile(first, 0.9), first.size());
    std::printf("request -> complete ms:      median %.1f, p90 %.1f (%zu requests completed)\n",
                percentile(full, 0.5), percentile(full, 0.9), full.size());
    if (jobDone)
        std::printf("sensitivity job (%lld evaluations): done after %.1f s\n", static_cast<long long>(jobTotal),
                    msSince(loadStart, jobEnd) / 1000.0);
    else
        std::printf("sensitivity job: %lld of %lld evaluations when the requests stopped\n",
                    static_cast<long long>(jobPoints), static_cast<long long>(jobTotal));
    std::printf("goal: longest stall under 50 ms: %s (less waits for a CPU taken by other processes: %s)\n",
                busy.max < 50.0 ? "met" : "NOT met", busy.maxOwn < 50.0 ? "met" : "NOT met");
    return 0;
}
