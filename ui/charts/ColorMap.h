#pragma once
// A perceptually uniform sequential colour map (viridis: dark blue-purple to yellow), readable
// in grey scale and by colour-blind readers, for values where "more" means "worse".

#include <QColor>

namespace leger::ui {

/// The map's colour at t in [0, 1] (clamped; NaN gives grey).
QColor viridis(double t);
/// Black or white, whichever reads better on `background`.
QColor textColorOn(const QColor& background);

} // namespace leger::ui
