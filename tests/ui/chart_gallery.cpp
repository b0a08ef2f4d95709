// Dev program: renders every chart with the sample's data to PNGs, in a light and a dark
// palette, so that one can look at them (clipped labels, overlaps, unreadable colours).
//   chart_gallery OUTPUT_DIR      (run with QT_QPA_PLATFORM=offscreen without a display)
#include <QApplication>
#include <QCheckBox>
#include <cmath>
#include <limits>
#include <QDir>
#include <QPalette>
#include <QStyle>
#include <QStyleFactory>
#include <QTextStream>

#include "ChartSampleData.h"
#include "charts/LayerBytesChart.h"
#include "charts/SensitivityView.h"
#include "charts/TradeoffChart.h"
#include "charts/WeightHistogram.h"

using namespace leger::ui;

namespace {

QPalette darkPalette()
{
    QPalette p;
    const QColor window(0x2b, 0x2b, 0x2e), base(0x1e, 0x1e, 0x20), text(0xe8, 0xe8, 0xe8);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, window);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, window);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::ToolTipBase, base);
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::Highlight, QColor(0x3d, 0x8e, 0xe0));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Mid, QColor(0x55, 0x55, 0x58));
    return p;
}

void save(QWidget& w, const QString& path, const std::function<bool(QString*)>& saver)
{
    w.show();
    QApplication::processEvents();
    QString error;
    if (!saver(&error))
        QTextStream(stderr) << error << '\n';
    else
        QTextStream(stdout) << path << '\n';
}

template <class W> void render(W& w, const QString& path, QSize size)
{
    w.resize(size);
    save(w, path, [&](QString* e) { return w.saveImage(path, e); });
}

} // namespace

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    if (argc < 2) {
        QTextStream(stderr) << "usage: chart_gallery OUTPUT_DIR\n";
        return 2;
    }
    QApplication::setStyle(QStyleFactory::create("Fusion"));
    const QDir dir(QString::fromLocal8Bit(argv[1]));
    if (!QDir().mkpath(dir.path()))
        return 1;
    const sample::ChartData& d = sample::chartData();

    for (const QString& theme : {QString("light"), QString("dark")}) {
        QApplication::setPalette(theme == "dark" ? darkPalette() : QApplication::style()->standardPalette());
        const auto out = [&](const QString& name) { return dir.filePath(name + "-" + theme + ".png"); };

        for (int variant = 0; variant < 3; ++variant) {
            TradeoffChart t;
            t.setMetricTitle("Top-1 accuracy (%)");
            t.setBaseline(d.baseline);
            t.setTrail(d.trail);
            t.setFrontier(d.frontier);
            t.setPresets(d.presets);
            t.setBudget(0.12e6);
            t.setFloor(d.baseline.value - 1.0);
            if (variant == 1)
                t.setCurrent(d.currentPartial, true);
            else
                t.setCurrent(d.current, false);
            if (variant == 2)
                t.setXAxis(TradeoffChart::XAxis::BitsPerWeight);
            const char* names[] = {"tradeoff", "tradeoff-partial", "tradeoff-bits"};
            render(t, out(names[variant]), {760, 480});
        }
        {
            TradeoffChart t; // a narrow dock
            t.setMetricTitle("Top-1 accuracy (%)");
            t.setBaseline(d.baseline);
            t.setPresets(d.presets);
            t.setCurrent(d.current, false);
            render(t, out("tradeoff-small"), {380, 280});
        }
        {
            LayerBytesChart c;
            c.setLayers(d.layerBytes);
            render(c, out("layerbytes"), {760, 420});
            c.setLayers(sample::manyLayerBytes(84));
            render(c, out("layerbytes-504"), {760, 640});
            render(c, out("layerbytes-504-short"), {560, 300});
        }
        {
            SensitivityView v;
            v.setTable(d.layers, d.settings, d.drop, "pp");
            render(v, out("sensitivity-heatmap"), {640, 360});
            v.setMode(SensitivityView::Mode::Bars);
            v.setBarsColumn(2);
            render(v, out("sensitivity-bars"), {640, 360});
            QStringList layers;
            std::vector<std::vector<double>> drop;
            sample::manySensitivityRows(84, &layers, &drop);
            v.setTable(layers, d.settings, drop, "pp");
            render(v, out("sensitivity-bars-504"), {640, 600});
            v.setMode(SensitivityView::Mode::Heatmap);
            render(v, out("sensitivity-heatmap-504"), {640, 600});
            // What the screen shows (the saved image holds the whole table).
            v.grab().save(out("sensitivity-heatmap-504-screen"));
        }
        {
            WeightHistogram h;
            h.setWeights(d.histogramLayer, d.original, d.compressed, d.levels, "channel 0");
            render(h, out("histogram"), {760, 440});
            h.findChild<QCheckBox*>()->setChecked(true);
            render(h, out("histogram-log"), {760, 440});
            std::vector<float> withNan = d.original;
            withNan[3] = std::nanf("");
            withNan[77] = std::numeric_limits<float>::infinity();
            h.setWeights(d.histogramLayer, withNan, d.compressed, {}, {});
            render(h, out("histogram-nan"), {560, 340});
        }
    }
    return 0;
}
