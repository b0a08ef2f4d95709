// Renders the workbench's main states to PNG files for review (tests/ui/render-screenshots.sh):
// the sample at start, a uniform preset, a per-layer drag, the sensitivity scan, the measured
// frontier, the weight histogram, a budget fit, a smaller model compared on the same data (size
// and bits per weight), and the same in a dark palette.
#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QPalette>
#include <QScreen>
#include <QSlider>
#include <QStyleFactory>
#include <QTabWidget>
#include <QTableView>
#include <QTest>
#include <cstdio>

#include "MainWindow.h"
#include "layers/LayersPanel.h"
#include "layers/SettingEditor.h"
#include "panels/LayerViewsPanel.h"
#include "workbench/Workbench.h"

using namespace leger::ui;

namespace {

bool waitFor(const std::function<bool()>& done, int ms)
{
    QElapsedTimer t;
    t.start();
    while (!done()) {
        if (t.elapsed() > ms)
            return false;
        QTest::qWait(20);
    }
    QTest::qWait(150); // let the charts' coalesced redraw happen
    return true;
}

void shoot(QWidget& w, const QDir& dir, const QString& name)
{
    const QString path = dir.filePath(name + ".png");
    if (!w.grab().save(path))
        std::fprintf(stderr, "cannot write %s\n", qPrintable(path));
    else
        std::printf("%s\n", qPrintable(path));
}

QPalette darkPalette()
{
    QPalette p;
    p.setColor(QPalette::Window, QColor(37, 37, 38));
    p.setColor(QPalette::WindowText, QColor(220, 220, 220));
    p.setColor(QPalette::Base, QColor(30, 30, 30));
    p.setColor(QPalette::AlternateBase, QColor(45, 45, 48));
    p.setColor(QPalette::Text, QColor(220, 220, 220));
    p.setColor(QPalette::Button, QColor(45, 45, 48));
    p.setColor(QPalette::ButtonText, QColor(220, 220, 220));
    p.setColor(QPalette::Highlight, QColor(38, 79, 120));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::ToolTipBase, QColor(45, 45, 48));
    p.setColor(QPalette::ToolTipText, QColor(220, 220, 220));
    p.setColor(QPalette::Mid, QColor(80, 80, 80));
    p.setColor(QPalette::Disabled, QPalette::Text, QColor(127, 127, 127));
    p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(127, 127, 127));
    p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(127, 127, 127));
    return p;
}

} // namespace

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setStyle(QStyleFactory::create("Fusion"));
    QApplication::setApplicationName("Leger-screenshots");
    QApplication::setOrganizationName("Leger");
    const QStringList args = QApplication::arguments();
    if (args.size() < 2) {
        std::fprintf(stderr, "usage: screenshot_tour OUTDIR [--dark]\n");
        return 2;
    }
    QDir dir(args[1]);
    dir.mkpath(".");
    const bool dark = args.contains("--dark");
    if (dark)
        QApplication::setPalette(darkPalette());
    const QString prefix = dark ? "dark-" : "";
    const QString sample = LEGER_SOURCE_DIR "/resources/sample/";

    MainWindow win;
    win.setInteractive(false);
    win.resize(1500, 950);
    win.show();
    Workbench* wb = win.workbench();
    if (!win.openModel(sample + "fashion_mnist_cnn.onnx", sample + "fashion-mnist-test-2000-images-idx3-ubyte.gz"))
        return 1;
    int failures = 0;
    const auto check = [&](bool ok, const char* what) {
        if (!ok) {
            std::fprintf(stderr, "timed out waiting for %s\n", what);
            ++failures;
        }
    };
    check(waitFor([&] { return wb->baseline() && wb->baseline()->complete() &&
                               wb->points().size() >= static_cast<int>(wb->presets().size()); },
                  120000),
          "the baseline and presets");
    shoot(win, dir, prefix + "01-start");

    win.layersPanel()->applyPreset("int8");
    check(waitFor([&] { return wb->current() && wb->current()->complete(); }, 60000), "int8");
    shoot(win, dir, prefix + "02-int8-all-layers");

    // A drag of the bits slider on two selected layers (one undo step).
    win.layersPanel()->selectLayer(1);
    win.layersPanel()->view()->selectRow(1);
    QSlider* bits = win.layersPanel()->editor()->bitsSlider();
    bits->setSliderDown(true);
    for (int b = 8; b >= 3; --b) {
        bits->setValue(b);
        QTest::qWait(30);
    }
    bits->setSliderDown(false);
    check(waitFor([&] { return wb->current() && wb->current()->complete(); }, 60000), "the drag");
    win.layerViews()->tabs()->setCurrentIndex(2);
    QTest::qWait(300);
    shoot(win, dir, prefix + "03-drag-conv2-to-3-bits");

    wb->startSensitivity();
    check(waitFor([&] { return !wb->jobRunning(); }, 300000), "the sensitivity scan");
    win.layerViews()->tabs()->setCurrentIndex(1);
    shoot(win, dir, prefix + "04-sensitivity");

    wb->startSweep(12);
    check(waitFor([&] { return !wb->jobRunning(); }, 300000), "the sweep");
    win.layerViews()->tabs()->setCurrentIndex(0);
    shoot(win, dir, prefix + "05-frontier");

    wb->setMaxDrop(0.005);
    wb->startFitMaxDrop(0.005);
    check(waitFor([&] { return !wb->jobRunning() && wb->current() && wb->current()->complete(); }, 300000), "the fit");
    win.layersPanel()->selectLayer(2);
    win.layerViews()->tabs()->setCurrentIndex(2);
    QTest::qWait(500);
    shoot(win, dir, prefix + "06-fit-and-weights");

    // "Compress, or choose another model?": the smaller sample model on the same images.
    win.compareWith(sample + "fashion_mnist_small.onnx");
    check(waitFor([&] { return wb->comparisons().size() == 1; }, 120000), "the compared model");
    win.layerViews()->tabs()->setCurrentIndex(0);
    shoot(win, dir, prefix + "07-compared-model");
    wb->setXAxis("bpw");
    QTest::qWait(300);
    shoot(win, dir, prefix + "08-compared-model-bits-per-weight");
    return failures ? 1 : 0;
}
