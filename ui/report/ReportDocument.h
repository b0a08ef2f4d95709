#pragma once
// A built report (core/report/Report.h) as a document a team can hand on: one self-contained
// HTML file (styles inline, charts as embedded SVG) and a PDF of the same content (Qt's text
// document printed to a PDF writer, charts as high-resolution images), and every figure as JSON. The charts are the
// workbench's own, drawn offscreen, so the report shows what the app showed. GUI thread only.

#include <QByteArray>
#include <QString>
#include <memory>

namespace leger {
struct ReportData;
}

namespace leger::ui {

class ReportDocument {
public:
    /// Draws the charts (needs a QApplication; the CLI starts one offscreen). The data must
    /// outlive the document.
    explicit ReportDocument(const ReportData& data);
    ~ReportDocument();
    ReportDocument(const ReportDocument&) = delete;
    ReportDocument& operator=(const ReportDocument&) = delete;

    /// The HTML page: self-contained for a browser (forPdf false), or the subset Qt's text
    /// document lays out, with charts referenced as resources (forPdf true).
    QString html(bool forPdf = false) const;
    /// Written atomically; false with *error naming the file on failure.
    bool writeHtml(const QString& path, QString* error) const;
    bool writePdf(const QString& path, QString* error) const;
    /// Every figure as JSON (core's reportJson), for tools and spreadsheets.
    bool writeJson(const QString& path, QString* error) const;

private:
    struct Private;
    std::unique_ptr<Private> d_;
};

} // namespace leger::ui
