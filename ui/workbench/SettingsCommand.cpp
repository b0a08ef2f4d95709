#include "workbench/SettingsCommand.h"

#include "workbench/Workbench.h"

namespace leger::ui {

SettingsCommand::SettingsCommand(Workbench* workbench, std::vector<int> rows, std::vector<LayerSetting> before,
                                 std::vector<LayerSetting> after, const QString& text, int dragId)
    : QUndoCommand(text), workbench_(workbench), rows_(std::move(rows)), before_(std::move(before)),
      after_(std::move(after)), dragId_(dragId)
{
}

void SettingsCommand::undo() { workbench_->replaceSettings(rows_, before_); }

void SettingsCommand::redo() { workbench_->replaceSettings(rows_, after_); }

bool SettingsCommand::mergeWith(const QUndoCommand* other)
{
    const auto* o = static_cast<const SettingsCommand*>(other);
    if (o->dragId_ != dragId_ || o->rows_ != rows_)
        return false;
    after_ = o->after_;
    setText(o->text()); // says where the drag ended
    setObsolete(after_ == before_);
    return true;
}

} // namespace leger::ui
