#include "charts/NiceScale.h"

#include <algorithm>
#include <cmath>

namespace leger::ui {

NiceScale NiceScale::fit(double lo, double hi, int ticks)
{
    NiceScale s;
    if (!std::isfinite(lo) || !std::isfinite(hi))
        return s;
    if (hi < lo)
        std::swap(lo, hi);
    if (hi - lo <= 1e-12 * std::max(1.0, std::abs(hi))) {
        // One value: open a small window around it rather than a zero-width axis.
        const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
        lo -= pad;
        hi += pad;
    }
    const double rough = (hi - lo) / std::max(1, ticks);
    const double mag = std::pow(10.0, std::floor(std::log10(rough)));
    const double norm = rough / mag;
    double mant = 10;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        if (norm <= m * (1 + 1e-9)) {
            mant = m;
            break;
        }
    }
    s.step = mant * mag;
    // The small tolerance keeps a bound that is already round from moving by a whole step.
    s.min = std::floor(lo / s.step + 1e-9) * s.step;
    s.max = std::ceil(hi / s.step - 1e-9) * s.step;
    if (s.max <= s.min)
        s.max = s.min + s.step;
    s.decimals = std::max(0, -static_cast<int>(std::floor(std::log10(s.step) + 1e-9)));
    if (mant == 2.5)
        ++s.decimals;
    return s;
}

QString NiceScale::format(double v) const
{
    if (std::abs(v) < step * 1e-6)
        v = 0; // no "-0.00"
    return QString::number(v, 'f', decimals);
}

} // namespace leger::ui
