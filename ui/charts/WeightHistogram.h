#pragma once
// One layer's weight distribution before and after compression, with the quantization levels
// of one channel drawn as thin lines, so that clipping and empty levels are visible.

#include <QString>
#include <QWidget>
#include <memory>
#include <vector>

namespace leger::ui {

class WeightHistogram : public QWidget {
    Q_OBJECT
public:
    explicit WeightHistogram(QWidget* parent = nullptr);
    ~WeightHistogram() override;

    /// original and compressed: the weights (same count); levels: the values the quantizer can
    /// produce for `levelsOf` (e.g. "channel 0"), empty for float formats. Empty original clears.
    void setWeights(const QString& layer, const std::vector<float>& original, const std::vector<float>& compressed,
                    const std::vector<float>& levels, const QString& levelsOf);
    bool saveImage(const QString& path, QString* error) const;

private:
    struct Private;
    std::unique_ptr<Private> d_;
};

} // namespace leger::ui
