#include "layers/LayersPanel.h"

#include <QButtonGroup>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QRadioButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include "layers/LayerTableModel.h"
#include "layers/SettingDelegate.h"
#include "layers/SettingEditor.h"
#include "workbench/Workbench.h"

namespace leger::ui {

LayersPanel::LayersPanel(Workbench* workbench, QWidget* parent)
    : QWidget(parent), workbench_(workbench), model_(new LayerTableModel(workbench, this)),
      proxy_(new QSortFilterProxyModel(this))
{
    proxy_->setSourceModel(model_);
    proxy_->setFilterKeyColumn(LayerTableModel::Name);
    proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
    proxy_->setSortRole(LayerTableModel::kExportRole);

    filter_ = new QLineEdit(this);
    filter_->setPlaceholderText(tr("Filter layers by name (wildcards * ?)"));
    filter_->setClearButtonEnabled(true);
    connect(filter_, &QLineEdit::textChanged, this, [this](const QString& text) {
        proxy_->setFilterWildcard(text.contains('*') || text.contains('?') ? text : QStringLiteral("*%1*").arg(text));
    });

    view_ = new QTableView(this);
    view_->setModel(proxy_);
    view_->setItemDelegate(new SettingDelegate(view_));
    view_->setSelectionBehavior(QAbstractItemView::SelectRows);
    view_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    view_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed |
                           QAbstractItemView::SelectedClicked);
    view_->setSortingEnabled(true);
    view_->sortByColumn(-1, Qt::AscendingOrder); // graph order until a header is clicked
    view_->verticalHeader()->hide();
    view_->verticalHeader()->setDefaultSectionSize(view_->fontMetrics().height() + 10);
    view_->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    view_->horizontalHeader()->setStretchLastSection(true);
    view_->setAlternatingRowColors(true);
    view_->setWordWrap(false);
    const int em = view_->fontMetrics().horizontalAdvance(QLatin1Char('M'));
    const std::pair<int, int> widths[] = {
        {LayerTableModel::Name, 11}, {LayerTableModel::Op, 5},       {LayerTableModel::Shape, 8},
        {LayerTableModel::Parameters, 6}, {LayerTableModel::Format, 6}, {LayerTableModel::Bits, 4},
        {LayerTableModel::Granularity, 6}, {LayerTableModel::Sparsity, 5}, {LayerTableModel::Pattern, 7},
        {LayerTableModel::Size, 6},      {LayerTableModel::Sqnr, 6}};
    for (auto [column, ems] : widths)
        view_->setColumnWidth(column, ems * em);

    scope_ = new QButtonGroup(this);
    auto* selected = new QRadioButton(tr("Selected layers"), this);
    auto* all = new QRadioButton(tr("All layers"), this);
    selected->setToolTip(tr("The controls below change the layers selected in the table"));
    all->setToolTip(tr("The controls below change every layer at once"));
    scope_->addButton(selected, 0);
    scope_->addButton(all, 1);
    all->setChecked(true);
    scopeLabel_ = new QLabel(this);

    presets_ = new QComboBox(this);
    fillPresets();
    presets_->setToolTip(tr("Apply a uniform setting to the chosen layers"));
    connect(presets_, &QComboBox::activated, this, [this](int i) {
        if (i > 0)
            applyPreset(presets_->itemData(i).toString());
        const QSignalBlocker block(presets_);
        presets_->setCurrentIndex(0);
    });

    editor_ = new SettingEditor([this] { return workbench_->newDragId(); }, this);
    connect(editor_, &SettingEditor::edited, this, [this](const SettingEditor::Edit& edit, const QString& text, int dragId) {
        const QList<int> rows = targetRows();
        if (!rows.isEmpty())
            workbench_->editLayers(rows, edit, applyToAll() ? tr("%1 (all layers)").arg(text) : text, dragId);
    });

    auto* scopeRow = new QHBoxLayout;
    scopeRow->addWidget(new QLabel(tr("Apply to:"), this));
    scopeRow->addWidget(selected);
    scopeRow->addWidget(all);
    scopeRow->addWidget(scopeLabel_);
    scopeRow->addStretch(1);
    scopeRow->addWidget(presets_);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(filter_);
    layout->addWidget(view_, 1);
    layout->addLayout(scopeRow);
    layout->addWidget(editor_);

    connect(scope_, &QButtonGroup::idClicked, this, [this] { refreshEditor(); });
    connect(view_->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        // Selecting layers is a request to edit them.
        if (!view_->selectionModel()->selectedRows().isEmpty() && applyToAll())
            setApplyToAll(false);
        refreshEditor();
    });
    connect(view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& cur) {
        emit currentLayerChanged(cur.isValid() ? proxy_->mapToSource(cur).row() : -1);
    });
    connect(workbench_, &Workbench::settingsChanged, this, [this] { refreshEditor(); });
    connect(workbench_, &Workbench::modelChanged, this, [this] {
        // Columns fit their header and contents once per model (not on every change).
        view_->resizeColumnsToContents();
        const int m = view_->fontMetrics().horizontalAdvance(QLatin1Char('M'));
        view_->setColumnWidth(LayerTableModel::Name, std::min(view_->columnWidth(LayerTableModel::Name), 16 * m));
        view_->setColumnWidth(LayerTableModel::Sparsity, std::max(view_->columnWidth(LayerTableModel::Sparsity), 5 * m));
        view_->setColumnWidth(LayerTableModel::Bits, std::max(view_->columnWidth(LayerTableModel::Bits), 4 * m));
        fillPresets();
        editor_->setLanguageModel(workbench_->isLanguageModel());
        // GGUF's formats carry their own scales and store every weight.
        for (int c : {LayerTableModel::Granularity, LayerTableModel::Sparsity, LayerTableModel::Pattern})
            view_->setColumnHidden(c, workbench_->isLanguageModel());
        setApplyToAll(true);
        refreshEditor();
        emit currentLayerChanged(-1);
    });
    refreshEditor();
}

void LayersPanel::fillPresets()
{
    const QSignalBlocker block(presets_);
    presets_->clear();
    presets_->addItem(tr("Preset…"));
    presets_->addItem(tr("uncompressed (float32)"), QStringLiteral("float32"));
    for (const Workbench::Preset& p : workbench_->presets())
        presets_->addItem(p.name, p.name);
}

bool LayersPanel::applyToAll() const { return scope_->checkedId() == 1; }

void LayersPanel::setApplyToAll(bool all)
{
    scope_->button(all ? 1 : 0)->setChecked(true);
    refreshEditor();
}

QList<int> LayersPanel::targetRows() const
{
    QList<int> rows;
    if (applyToAll()) {
        for (int r = 0; r < model_->rowCount(); ++r)
            rows << r;
        return rows;
    }
    for (const QModelIndex& i : view_->selectionModel()->selectedRows())
        rows << proxy_->mapToSource(i).row();
    std::sort(rows.begin(), rows.end());
    return rows;
}

void LayersPanel::applyPreset(const QString& name)
{
    LayerSetting setting = LayerSetting::none();
    for (const Workbench::Preset& p : workbench_->presets())
        if (p.name == name)
            setting = p.setting;
    const QList<int> rows = targetRows();
    workbench_->editLayers(rows, [setting](LayerSetting) { return setting; },
                           applyToAll() ? tr("Preset %1 (all layers)").arg(name) : tr("Preset %1").arg(name));
}

void LayersPanel::selectLayer(int row)
{
    const QModelIndex i = proxy_->mapFromSource(model_->index(row, LayerTableModel::Name));
    if (!i.isValid())
        return;
    view_->selectionModel()->setCurrentIndex(i, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    view_->scrollTo(i);
}

void LayersPanel::refreshEditor()
{
    const QList<int> rows = targetRows();
    const auto& s = workbench_->settings();
    editor_->setEnabled(!rows.isEmpty());
    scopeLabel_->setText(applyToAll() ? (s.size() == 1 ? tr("(1 layer)") : tr("(%1 layers)").arg(s.size()))
                                      : tr("(%1 selected)").arg(rows.size()));
    if (rows.isEmpty())
        return;
    const LayerSetting& first = s[static_cast<std::size_t>(rows.front())];
    bool mixed = false;
    for (int r : rows)
        mixed |= !(s[static_cast<std::size_t>(r)] == first);
    editor_->showSetting(first, mixed);
}

} // namespace leger::ui
