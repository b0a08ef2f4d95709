#pragma once

#include <QString>
#include <cstdint>
#include <memory>
#include <vector>

#include "compress/LayerSetting.h"
#include "eval/Evaluator.h"

namespace leger::ui {

/// Where an evaluated plan came from.
enum class PointKind { Trail, Preset, Frontier, Fit };

/// One plan the engine measured completely: the chart's points and the session's history.
struct PlanPoint {
    int id = 0;
    PointKind kind = PointKind::Trail;
    QString label;
    std::vector<LayerSetting> settings;  // one per layer
    std::int64_t sizeBytes = 0;          // exact (SizeModel)
    double bitsPerWeight = 0;
    std::shared_ptr<const Evaluation> evaluation; // complete
    bool pareto = false;
};

const char* toString(PointKind k);      // "trail" "preset" "frontier" "fit"
PointKind pointKindFromString(const QString& s);

} // namespace leger::ui
