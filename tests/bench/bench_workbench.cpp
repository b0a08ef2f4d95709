// The live loop of the whole workbench window, as a user drives it: the bits slider of the
// setting editor is dragged back and forth on all layers of the sample (20 value changes a
// second, like a mouse drag), with every panel live (table, summary, trade-off chart, bytes
// chart, weight histogram). Prints the GUI thread's event-loop stalls (gaps between the ticks
// of a 5 ms timer) while idle and while driven, and the latency from a slider change to the
// first measured point shown and to the complete result. Figures, not assertions.
// With --llm, the same on the test language model (resources/llm: 29 layers, the whole held-out
// text, 169 windows of 256 tokens): the bits slider then moves through GGUF's K-quants, and a
// layer's format changes instead of the sparsity (language models are not pruned).
// Usage: bench_workbench [seconds=10] [--llm]   (QT_QPA_PLATFORM=offscreen or a display)
#include <QApplication>
#include <QElapsedTimer>
#include <QSlider>
#include <QTimer>
#include <QUndoStack>
#include <algorithm>
#include <cstdio>
#include <vector>


#include "MainWindow.h"
#include "engine/EngineBridge.h"
#include "layers/LayersPanel.h"
#include "layers/SettingEditor.h"
#include "workbench/Workbench.h"

using namespace leger::ui;

namespace {

struct Gaps {
    std::vector<double> ms;
    double max() const { return ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end()); }
    double pct(double p) const
    {
        if (ms.empty())
            return 0;
        auto v = ms;
        std::sort(v.begin(), v.end());
        return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
    }
    double mean() const
    {
        double s = 0;
        for (double x : ms)
            s += x;
        return ms.empty() ? 0 : s / static_cast<double>(ms.size());
    }
};

double median(std::vector<double> v, double p = 0.5)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

/// Records the gaps between ticks of a 5 ms timer for `ms` milliseconds while `drive` runs.
Gaps measure(int ms, const std::function<void()>& drive = {})
{
    Gaps g;
    QElapsedTimer clock;
    clock.start();
    qint64 last = clock.nsecsElapsed();
    QTimer tick;
    tick.setTimerType(Qt::PreciseTimer);
    QObject::connect(&tick, &QTimer::timeout, [&] {
        const qint64 now = clock.nsecsElapsed();
        g.ms.push_back(static_cast<double>(now - last) / 1e6);
        last = now;
    });
    tick.start(5);
    QTimer driver;
    if (drive) {
        QObject::connect(&driver, &QTimer::timeout, drive);
        driver.start(50);
    }
    QEventLoop loop;
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    loop.exec();
    return g;
}

} // namespace

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName("Leger-bench");
    EngineBridge::tuneProcess(); // as the leger app does
    int seconds = 10;
    bool llm = false;
    for (int i = 1; i < argc; ++i) {
        if (QString(argv[i]) == "--llm")
            llm = true;
        else
            seconds = std::max(1, std::atoi(argv[i]));
    }
    const QString sample = LEGER_SOURCE_DIR "/resources/sample/";
    const QString llmDir = LEGER_SOURCE_DIR "/resources/llm/";

    MainWindow win;
    win.setInteractive(false);
    win.resize(1400, 900);
    win.show();
    Workbench* wb = win.workbench();
    if (llm ? !win.openModel(llmDir + "tiny-llama-f32.gguf", llmDir + "heldout.txt")
            : !win.openModel(sample + "fashion_mnist_cnn.onnx", sample + "fashion-mnist-test-2000-images-idx3-ubyte.gz"))
        return 1;
    QElapsedTimer wait;
    wait.start();
    while (!(wb->baseline() && wb->baseline()->complete() &&
             wb->points().size() >= static_cast<int>(wb->presets().size())) &&
           wait.elapsed() < 300000)
        QApplication::processEvents(QEventLoop::AllEvents, 20);

    const Gaps idle = measure(2000);

    // Drive the slider: each change starts a clock; the first partial and the complete result
    // shown for that plan stop it.
    QSlider* bits = win.layersPanel()->editor()->bitsSlider();
    QSlider* sparsity = win.layersPanel()->editor()->sparsitySlider();
    QElapsedTimer clock;
    clock.start();
    qint64 changedAt = 0;
    bool sawPartial = false, sawComplete = false;
    std::vector<double> toPartial, toComplete;
    QObject::connect(wb, &Workbench::currentChanged, [&] {
        const auto c = wb->current();
        if (!c)
            return;
        const double ms = static_cast<double>(clock.nsecsElapsed() - changedAt) / 1e6;
        if (!sawPartial) {
            toPartial.push_back(ms);
            sawPartial = true;
        }
        if (c->complete() && !sawComplete) {
            toComplete.push_back(ms);
            sawComplete = true;
        }
    });
    // A new plan: the sparsity moves one notch (ONNX), or one layer takes the next GGUF type.
    const leger::WeightFormat cycle[] = {leger::WeightFormat::Q8_0, leger::WeightFormat::Q5_0, leger::WeightFormat::Q4_1,
                                         leger::WeightFormat::Q6_K, leger::WeightFormat::Q3_K};
    int renewals = 0;
    const auto renew = [&](int notches) {
        if (!llm) {
            sparsity->setValue((sparsity->value() + notches) % 20);
            return;
        }
        const int n = static_cast<int>(wb->layers().size()), k = renewals++;
        wb->editLayers({k % n}, [f = cycle[(k / n) % 5]](leger::LayerSetting s) { s.format = f; return s; }, "bench");
    };
    int step = 0, changes = 0;
    const int sequence[] = {8, 7, 6, 5, 4, 3, 2, 3, 4, 5, 6, 7};
    bits->setSliderDown(true);
    const Gaps busy = measure(seconds * 1000, [&] {
        // Every 12 changes the sparsity moves one notch, so that every plan is new to the engine
        // (a plan seen before is answered from the history, which would flatter the figures).
        if (step % 12 == 11)
            renew(1);
        const int v = sequence[step++ % 12];
        changedAt = clock.nsecsElapsed();
        sawPartial = sawComplete = false;
        bits->setValue(v);
        ++changes;
    });
    bits->setSliderDown(false);

    // Settled: one change at a time (a click on the slider), each waited for until complete.
    std::vector<double> settledPartial, settledComplete;
    for (int i = 0; i < 12; ++i) {
        renew(3);
        QElapsedTimer t;
        t.start();
        double first = -1;
        while (t.elapsed() < 30000) {
            QApplication::processEvents(QEventLoop::AllEvents, 1);
            const auto c = wb->current();
            if (c && first < 0)
                first = static_cast<double>(t.nsecsElapsed()) / 1e6;
            if (c && c->complete())
                break;
        }
        settledPartial.push_back(first);
        settledComplete.push_back(static_cast<double>(t.nsecsElapsed()) / 1e6);
    }

    std::printf("bench_workbench: %s, %d s of slider drags at 20 changes/s, all panels live\n",
                llm ? "test language model (29 layers, 169 windows of 256 tokens)" : "sample (6 layers, 2000 images)",
                seconds);
    std::printf("  idle:   max gap %.1f ms, p99 %.1f ms, mean %.2f ms (%zu ticks of 5 ms)\n", idle.max(), idle.pct(0.99),
                idle.mean(), idle.ms.size());
    std::printf("  driven: max gap %.1f ms, p99 %.1f ms, mean %.2f ms (%zu ticks); longest stall %.1f ms "
                "(max gap - 5 ms); ratio of max gaps driven/idle %.2f\n",
                busy.max(), busy.pct(0.99), busy.mean(), busy.ms.size(), busy.max() - 5.0,
                idle.max() > 0 ? busy.max() / idle.max() : 0.0);
    std::printf("  %d slider changes in one drag of the bits slider (plus %d %s): %d undo steps\n", changes, changes / 12,
                llm ? "single-layer format changes" : "sparsity notches", wb->undoStack()->count());
    std::printf("  change -> first measured point shown: median %.1f ms, p90 %.1f ms (%zu of %d changes got one "
                "before the next change)\n",
                median(toPartial), median(toPartial, 0.9), toPartial.size(), changes);
    std::printf("  change -> complete result shown:      median %.1f ms, p90 %.1f ms (%zu)\n", median(toComplete),
                median(toComplete, 0.9), toComplete.size());
    std::printf("  one change at a time (12 new plans): first point %.1f ms median (p90 %.1f), complete %.1f ms median "
                "(p90 %.1f), of which the %d ms debounce\n",
                median(settledPartial), median(settledPartial, 0.9), median(settledComplete), median(settledComplete, 0.9),
                50);
    return 0;
}
