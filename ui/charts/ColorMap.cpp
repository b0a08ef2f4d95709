#include "charts/ColorMap.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace leger::ui {

QColor viridis(double t)
{
    // matplotlib's viridis sampled at 0, 0.1, ..., 1; linear in between (the map is smooth
    // enough that 11 stops are indistinguishable from the full table).
    static constexpr std::array<unsigned, 11> stops = {0x440154, 0x482475, 0x414487, 0x355f8d, 0x2a788e, 0x21918c,
                                                       0x22a884, 0x44bf70, 0x7ad151, 0xbddf26, 0xfde725};
    if (std::isnan(t))
        return QColor(128, 128, 128);
    t = std::clamp(t, 0.0, 1.0) * (stops.size() - 1);
    const auto i = std::min(static_cast<std::size_t>(t), stops.size() - 2);
    const double f = t - static_cast<double>(i);
    const auto channel = [&](int shift) {
        const double a = (stops[i] >> shift) & 0xff, b = (stops[i + 1] >> shift) & 0xff;
        return static_cast<int>(std::lround(a + (b - a) * f));
    };
    return QColor(channel(16), channel(8), channel(0));
}

QColor textColorOn(const QColor& background)
{
    // Relative luminance (sRGB weights, gamma ignored: enough to pick black or white).
    const double y = 0.2126 * background.redF() + 0.7152 * background.greenF() + 0.0722 * background.blueF();
    return y > 0.45 ? QColor(Qt::black) : QColor(Qt::white);
}

} // namespace leger::ui
