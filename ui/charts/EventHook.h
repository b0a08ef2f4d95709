#pragma once
// An event filter that calls a function: lets the chart widgets watch their inner views (clicks,
// tooltips) and their own palette changes without adding overrides to their public headers.

#include <QEvent>
#include <QObject>
#include <functional>
#include <utility>

namespace leger::ui {

class EventHook : public QObject {
public:
    /// Return true from the handler to stop the event.
    using Handler = std::function<bool(QEvent*)>;

    /// Installs itself on target and is deleted with it.
    EventHook(QObject* target, Handler handler) : QObject(target), handler_(std::move(handler))
    {
        target->installEventFilter(this);
    }

    bool eventFilter(QObject* watched, QEvent* event) override
    {
        return watched == parent() && handler_(event);
    }

    /// Whether the event means the widget's colours may have changed.
    static bool isPaletteChange(const QEvent* event)
    {
        return event->type() == QEvent::PaletteChange || event->type() == QEvent::ApplicationPaletteChange;
    }

private:
    Handler handler_;
};

} // namespace leger::ui
