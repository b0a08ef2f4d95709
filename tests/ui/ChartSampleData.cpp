#include "ChartSampleData.h"

#include <algorithm>
#include <cmath>

#include "compress/Compressor.h"
#include "compress/Plan.h"
#include "compress/SizeReport.h"
#include "data/Dataset.h"
#include "data/Preprocessing.h"
#include "eval/Evaluator.h"
#include "io/OnnxReader.h"
#include "model/Model.h"
#include "report/Report.h"
#include "search/Search.h"

#include <fstream>
#include <sstream>

namespace leger::ui::sample {

namespace {

const std::string kDir = LEGER_SOURCE_DIR "/resources/sample/";

std::vector<LayerSetting> uniform(std::size_t n, const std::string& spec)
{
    return std::vector<LayerSetting>(n, parseSettingSpec(spec));
}

ChartPoint point(int id, const QString& label, const Evaluation& e, const SizeModel& size)
{
    const SizeReport r = size.report(e.settings);
    const Interval& top1 = *e.metrics.find("top1");
    ChartPoint p;
    p.id = id;
    p.label = label;
    p.sizeBytes = static_cast<double>(r.total);
    p.bitsPerWeight = r.bitsPerWeight;
    p.value = 100 * top1.value;
    p.low = 100 * top1.low;
    p.high = 100 * top1.high;
    return p;
}

ChartData compute()
{
    ChartData d;
    const Model model = OnnxReader::readModel(kDir + "fashion_mnist_cnn.onnx");
    const Dataset data = Dataset::read(kDir + "fashion-mnist-test-2000-images-idx3-ubyte.gz");
    Evaluator ev(model, data, *Preprocessing::readSidecar(model.path));
    const std::vector<Layer>& layers = ev.layers();
    const std::size_t L = layers.size();
    const SizeModel size(model, layers);

    d.baseline = point(-1, "float32", ev.evaluate(std::vector<LayerSetting>(L)), size);

    // The shipped recipe as the plan being edited: complete, and after its first chunk.
    std::ifstream in(kDir + "fashion_mnist_cnn.plan.json");
    std::stringstream json;
    json << in.rdbuf();
    const std::vector<LayerSetting> recipe = Plan::fromJson(json.str()).resolve(layers);
    std::optional<Evaluation> first;
    const Evaluation full = ev.evaluate(recipe, nullptr, [&](const Evaluation& e) {
        if (!first)
            first = e;
    });
    d.current = point(-1, "sample recipe", full, size);
    d.currentPartial = point(-1, "sample recipe", first ? *first : full, size);

    int id = 0;
    for (const char* spec : {"int8", "int4-g32", "int4", "int2-g32"})
        d.presets.append(point(id++, QString(spec).replace('-', ' '), ev.evaluate(uniform(L, spec)), size));

    const std::vector<LayerSetting> settings = {parseSettingSpec("int8"), parseSettingSpec("int4-g32"),
                                                parseSettingSpec("int4"), parseSettingSpec("int2-g32")};
    const SensitivityTable table = sensitivityScan(ev, settings, "top1");
    for (const Layer& l : layers)
        d.layers.append(QString::fromStdString(l.name));
    for (const LayerSetting& s : settings)
        d.settings.append(QString::fromStdString(settingSpec(s)));
    for (const auto& row : table.drop) {
        std::vector<double> pp;
        for (double v : row)
            pp.push_back(100 * v); // fraction -> percentage points
        d.drop.push_back(pp);
    }

    const auto sizeOf = [&size](const std::vector<LayerSetting>& plan) { return size.total(plan); };
    for (const FrontierPoint& f : frontierSweep(ev, table, sizeOf, 12)) {
        ChartPoint p = point(id++, QString("sweep %1").arg(d.trail.size() + 1), f.evaluation, size);
        d.trail.append(p);
        if (f.pareto)
            d.frontier.append(p);
    }

    const ComparedModel small = measureModel(kDir + "fashion_mnist_small.onnx", data, {}, uniformPresets());
    d.compared.name = QString::fromStdString(small.name);
    for (const MeasuredPlan& m : small.points) {
        const Interval& top1 = *m.evaluation.metrics.find("top1");
        ChartPoint p;
        p.label = QString::fromStdString(m.label);
        p.sizeBytes = static_cast<double>(m.size.total);
        p.bitsPerWeight = m.size.bitsPerWeight;
        p.value = 100 * top1.value;
        p.low = 100 * top1.low;
        p.high = 100 * top1.high;
        p.valueText = QString("%1 % ± %2").arg(p.value, 0, 'f', 2).arg((p.high - p.low) / 2, 0, 'f', 1);
        d.compared.points.append(p);
    }

    const SizeReport report = size.report(recipe);
    for (std::size_t i = 0; i < L; ++i) {
        const LayerBytes& b = report.layers[i];
        d.layerBytes.append({QString::fromStdString(layers[i].name), double(b.codes), double(b.sparsity),
                             double(b.scales + b.zeroPoints), double(b.header)});
    }

    // fc1 (the largest layer) at int4 per channel: the histogram before and after, and the 15
    // levels of its channel 0 (symmetric: k * scale, |k| <= 7).
    const auto fc1 = std::max_element(layers.begin(), layers.end(),
                                      [](const Layer& a, const Layer& b) { return a.parameters < b.parameters; });
    const Tensor& w = *model.graph.initializer(fc1->name);
    const CompressedWeight c = compressWeight(*fc1, w, parseSettingSpec("int4"));
    Tensor out;
    decompressWeight(c, *fc1, out);
    d.histogramLayer = QString::fromStdString(fc1->name);
    d.original = layerMatrix(*fc1, w);
    d.compressed = layerMatrix(*fc1, out);
    const int qmax = (1 << (c.setting.bits - 1)) - 1;
    for (int k = -qmax; k <= qmax; ++k)
        d.levels.push_back(static_cast<float>(k) * c.scales[0]);
    return d;
}

} // namespace

const ChartData& chartData()
{
    static const ChartData data = compute();
    return data;
}

QVector<LayerBytesBar> manyLayerBytes(int copies)
{
    const QVector<LayerBytesBar>& base = chartData().layerBytes;
    QVector<LayerBytesBar> out;
    for (int i = 0; i < copies; ++i) {
        const double f = 1.0 + 0.37 * std::sin(i * 0.7); // blocks differ so that "largest" means something
        for (const LayerBytesBar& b : base)
            out.append({QString("block%1.%2").arg(i).arg(b.name), b.codes * f, b.sparsity * f, b.scales * f, b.header});
    }
    return out;
}

void manySensitivityRows(int copies, QStringList* layers, std::vector<std::vector<double>>* drop)
{
    const ChartData& d = chartData();
    layers->clear();
    drop->clear();
    for (int i = 0; i < copies; ++i) {
        const double f = 1.0 + 0.5 * std::cos(i * 1.3);
        for (qsizetype r = 0; r < d.layers.size(); ++r) {
            layers->append(QString("block%1.%2").arg(i).arg(d.layers[r]));
            std::vector<double> row = d.drop[static_cast<std::size_t>(r)];
            for (double& v : row)
                v *= f;
            drop->push_back(row);
        }
    }
}

} // namespace leger::ui::sample
