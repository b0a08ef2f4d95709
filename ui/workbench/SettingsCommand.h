#pragma once
// One undoable plan change: new settings for some layers. Consecutive commands of one slider
// drag (same drag id, same layers) merge into one step, and a step that ends where it began
// drops itself (Tiled's ChangeValue command does the same).

#include <QUndoCommand>
#include <vector>

#include "compress/LayerSetting.h"

namespace leger::ui {

class Workbench;

class SettingsCommand : public QUndoCommand {
public:
    /// rows: the layers changed; before/after: their settings (same order). dragId 0: never merges.
    SettingsCommand(Workbench* workbench, std::vector<int> rows, std::vector<LayerSetting> before,
                    std::vector<LayerSetting> after, const QString& text, int dragId);

    void undo() override;
    void redo() override;
    int id() const override { return dragId_ ? 0x4c47 : -1; }
    bool mergeWith(const QUndoCommand* other) override;

private:
    Workbench* workbench_;
    std::vector<int> rows_;
    std::vector<LayerSetting> before_, after_;
    int dragId_;
};

} // namespace leger::ui
