#pragma once
// Axis ranges on round numbers (1, 2, 2.5 or 5 times a power of ten), so that ticks read well
// and a range chosen once can be kept while the data moves inside it.

#include <QString>

namespace leger::ui {

struct NiceScale {
    double min = 0, max = 1, step = 0.2;
    int decimals = 1; // digits after the point that the step needs

    /// The smallest round range that holds [lo, hi], with about `ticks` intervals.
    static NiceScale fit(double lo, double hi, int ticks = 5);
    /// v with the scale's decimals.
    QString format(double v) const;
    bool contains(double lo, double hi) const { return lo >= min && hi <= max; }
};

} // namespace leger::ui
