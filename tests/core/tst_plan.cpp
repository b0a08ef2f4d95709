// Plan: recipe parsing, precedence of exact names over patterns and of later patterns over
// earlier ones, JSON round trip, atomic file writing, and the message of every invalid field.
#include <QTemporaryDir>
#include <QtTest>

#include "compress/Plan.h"
#include "model/Layer.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

#include "TestUtil.h"

using namespace leger;
using leger::test::errorOf;

namespace {

Layer layer(const std::string& name)
{
    Layer l;
    l.name = name;
    l.rows = 4;
    l.cols = 8;
    l.parameters = 32;
    l.shape = {4, 8};
    return l;
}

} // namespace

class TestPlan : public QObject {
    Q_OBJECT
private slots:
    void defaultsWhenEmpty();
    void parsesFullRecipe();
    void partialDefaultKeepsOtherFields();
    void precedence();
    void exactKeyWithGlobCharacters();
    void globSyntax();
    void resolveReportsUnusedKeys();
    void roundTrip();
    void setLayerAndDefault();
    void fileRoundTripIsAtomic();
    void invalidRecipes_data();
    void invalidRecipes();
};

void TestPlan::defaultsWhenEmpty()
{
    const Plan p = Plan::fromJson("{}", "plan.json");
    QVERIFY(p.defaultSetting().isNone());
    QCOMPARE(p.defaultSetting().format, WeightFormat::Float32);
    const auto s = p.resolve({layer("a"), layer("b")});
    QCOMPARE(s.size(), std::size_t{2});
    QVERIFY(s[0].isNone() && s[1].isNone());
    // Only layers: the default is still float32.
    const Plan q = Plan::fromJson(R"({"layers": {"a": {"format": "int", "bits": 4}}})", "plan.json");
    const auto t = q.resolve({layer("a"), layer("b")});
    QCOMPARE(t[0].format, WeightFormat::Int);
    QCOMPARE(t[0].bits, 4);
    QVERIFY(t[1].isNone());
}

void TestPlan::parsesFullRecipe()
{
    const Plan p = Plan::fromJson(R"({"default": {"format": "int", "bits": 8, "granularity": "channel", "symmetric": true,
        "clip": "minmax", "sparsity": 0.0, "pattern": "unstructured"},
        "layers": {"conv1*": {"bits": 4, "granularity": "group", "group_size": 32},
                   "fc": {"format": "bfloat16", "sparsity": 0.5, "pattern": "channel", "symmetric": false, "clip": "mse"},
                   "x?": {"pattern": "2:4"}, "y[0-9]": {"pattern": "4:8", "format": "float16"}}})",
                                  "plan.json");
    const LayerSetting& d = p.defaultSetting();
    QCOMPARE(d.format, WeightFormat::Int);
    QCOMPARE(d.bits, 8);
    QCOMPARE(d.granularity, Granularity::Channel);
    QVERIFY(d.symmetric);
    QCOMPARE(d.clip, Clipping::MinMax);
    QCOMPARE(d.sparsity, 0.0);
    QCOMPARE(d.pattern, SparsityPattern::Unstructured);
    QCOMPARE(p.entries().size(), std::size_t{4});
    QCOMPARE(p.entries()[0].key, std::string("conv1*"));

    const auto s = p.resolve({layer("conv1.weight"), layer("fc"), layer("xa"), layer("y7"), layer("other")});
    QCOMPARE(s[0].format, WeightFormat::Int); // from the default
    QCOMPARE(s[0].bits, 4);
    QCOMPARE(s[0].granularity, Granularity::Group);
    QCOMPARE(s[0].groupSize, 32);
    QVERIFY(s[0].symmetric);
    QCOMPARE(s[1].format, WeightFormat::BFloat16);
    QCOMPARE(s[1].sparsity, 0.5);
    QCOMPARE(s[1].pattern, SparsityPattern::Channel);
    QVERIFY(!s[1].symmetric);
    QCOMPARE(s[1].clip, Clipping::Mse);
    QCOMPARE(s[1].bits, 8);
    QCOMPARE(s[2].pattern, SparsityPattern::N2M4);
    QCOMPARE(s[3].pattern, SparsityPattern::N4M8);
    QCOMPARE(s[3].format, WeightFormat::Float16);
    QCOMPARE(s[4].format, WeightFormat::Int);
    QCOMPARE(s[4].bits, 8);
    QCOMPARE(s[4].pattern, SparsityPattern::Unstructured);
}

void TestPlan::partialDefaultKeepsOtherFields()
{
    const Plan p = Plan::fromJson(R"({"default": {"format": "int", "bits": 3}})", "r.json");
    const LayerSetting& d = p.defaultSetting();
    const LayerSetting base;
    QCOMPARE(d.bits, 3);
    QCOMPARE(d.granularity, base.granularity);
    QCOMPARE(d.groupSize, base.groupSize);
    QCOMPARE(d.symmetric, base.symmetric);
    QCOMPARE(d.sparsity, base.sparsity);
}

void TestPlan::precedence()
{
    // The exact key wins wherever it is; among patterns the last one in file order wins.
    const Plan p = Plan::fromJson(R"({"default": {"format": "int"},
        "layers": {"conv1": {"bits": 2}, "conv*": {"bits": 3}, "conv?": {"bits": 4}, "c*": {"bits": 5},
                   "d*": {"bits": 6}, "dense*": {"bits": 7}}})",
                                  "plan.json");
    const auto s = p.resolve({layer("conv1"), layer("conv2"), layer("conv10"), layer("dense1"), layer("dx")});
    QCOMPARE(s[0].bits, 2); // exact, although three later patterns match
    QCOMPARE(s[1].bits, 5); // conv*, conv? and c* match: c* is last
    QCOMPARE(s[2].bits, 5); // conv* and c*
    QCOMPARE(s[3].bits, 7); // d* then dense*: the later
    QCOMPARE(s[4].bits, 6);
    QCOMPARE(p.settingFor("conv1").bits, 2);
    QCOMPARE(p.settingFor("conv2").bits, 5);
    QCOMPARE(p.settingFor("zzz").bits, 8);

    // Reversed order: the more specific pattern now comes last and wins.
    const Plan q = Plan::fromJson(R"({"default": {"format": "int"},
        "layers": {"c*": {"bits": 5}, "conv*": {"bits": 3}}})",
                                  "plan.json");
    QCOMPARE(q.resolve({layer("conv2")})[0].bits, 3);
    QCOMPARE(q.resolve({layer("conv2"), layer("cx")})[1].bits, 5);
}

void TestPlan::exactKeyWithGlobCharacters()
{
    // A layer whose name contains glob characters is still addressed exactly by its name.
    const Plan p = Plan::fromJson(R"({"layers": {"w[0]": {"format": "float16"}, "*": {"format": "bfloat16"}}})", "p");
    const auto s = p.resolve({layer("w[0]"), layer("w0")});
    QCOMPARE(s[0].format, WeightFormat::Float16);
    QCOMPARE(s[1].format, WeightFormat::BFloat16); // "w[0]" as a pattern matches w0, but "*" is later
}

void TestPlan::globSyntax()
{
    QVERIFY(Plan::matches("conv*", "conv1.weight"));
    QVERIFY(Plan::matches("*", "a/b.c"));
    QVERIFY(Plan::matches("l?", "l1"));
    QVERIFY(!Plan::matches("l?", "l12"));
    QVERIFY(Plan::matches("l[0-3]", "l2"));
    QVERIFY(!Plan::matches("l[0-3]", "l5"));
    QVERIFY(Plan::matches("l[!0-3]", "l5"));
    QVERIFY(!Plan::matches("conv", "conv1"));
    QVERIFY(Plan::isPattern("a*") && Plan::isPattern("a?") && Plan::isPattern("a[1]"));
    QVERIFY(!Plan::isPattern("a.b/c"));
}

void TestPlan::resolveReportsUnusedKeys()
{
    const Plan p = Plan::fromJson(R"({"layers": {"conv1": {"bits": 4}, "conv9*": {"bits": 4}}})", "plan.json");
    QCOMPARE(errorOf([&] { p.resolve({layer("conv1"), layer("fc")}); }),
             std::string(R"(plan.json: layers."conv9*": matches no layer of the model)"));
    const Plan q = Plan::fromJson(R"({"layers": {"convX": {"bits": 4}}})", "plan.json");
    QCOMPARE(errorOf([&] { q.resolve({layer("conv1")}); }),
             std::string(R"(plan.json: layers."convX": matches no layer of the model)"));
    // A pattern that matches only layers an exact key takes still counts as used.
    const Plan r = Plan::fromJson(R"({"layers": {"conv*": {"bits": 3}, "conv1": {"bits": 4}}})", "plan.json");
    QCOMPARE(r.resolve({layer("conv1")})[0].bits, 4);
}

void TestPlan::roundTrip()
{
    const std::string json = R"({"default": {"format": "int", "bits": 6, "granularity": "group", "group_size": 128,
        "symmetric": false, "clip": "mse", "sparsity": 0.3, "pattern": "channel"},
        "layers": {"z*": {"bits": 4}, "a": {"format": "float16", "sparsity": 0.125}, "m?": {"pattern": "4:8"},
                   "b": {"symmetric": true, "clip": "minmax", "granularity": "tensor", "group_size": 64}}})";
    const Plan p = Plan::fromJson(json, "p.json");
    const std::string out = p.toJson();
    const Plan q = Plan::fromJson(out, "p.json");
    QVERIFY(p == q);
    QCOMPARE(q.entries(), p.entries()); // order and exactly the given fields are kept
    QCOMPARE(q.entries()[0].key, std::string("z*"));
    QVERIFY(!q.entries()[0].fields.format.has_value());
    QCOMPARE(q.toJson(), out);
    // Every field of the default survives, even where LayerSetting::operator== ignores it.
    const LayerSetting& d = q.defaultSetting();
    QCOMPARE(d.groupSize, 128);
    QCOMPARE(d.sparsity, 0.3);
    QCOMPARE(d.clip, Clipping::Mse);
    // Awkward sparsities survive bit for bit.
    Plan r;
    LayerSetting s;
    s.sparsity = 0.1 + 0.2;
    r.setLayer("x", s);
    QCOMPARE(Plan::fromJson(r.toJson()).settingFor("x").sparsity, 0.1 + 0.2);
}

void TestPlan::setLayerAndDefault()
{
    Plan p("session");
    LayerSetting d;
    d.format = WeightFormat::Int;
    d.bits = 8;
    p.setDefault(d);
    LayerSetting s = d;
    s.bits = 3;
    p.setLayer("fc1", s);
    p.setEntry("conv*", LayerOverride{.bits = 5});
    QCOMPARE(p.entries().size(), std::size_t{2});
    s.bits = 2;
    p.setLayer("fc1", s); // replaces in place
    QCOMPARE(p.entries().size(), std::size_t{2});
    QCOMPARE(p.entries()[0].key, std::string("fc1"));
    const auto r = p.resolve({layer("fc1"), layer("conv3"), layer("x")});
    QCOMPARE(r[0].bits, 2);
    QCOMPARE(r[1].bits, 5);
    QCOMPARE(r[2].bits, 8);
    QVERIFY(p.removeEntry("fc1"));
    QVERIFY(!p.removeEntry("fc1"));
    QCOMPARE(p.settingFor("fc1").bits, 8); // back to the default: "conv*" does not match
    s.bits = 9;
    QCOMPARE(errorOf([&] { p.setLayer("fc1", s); }), std::string(R"(session: layers."fc1".bits: 9 is outside 2..8)"));
    d.sparsity = 1.0;
    QCOMPARE(errorOf([&] { p.setDefault(d); }), std::string("session: default.sparsity: 1.0 is outside [0, 1)"));
}

void TestPlan::fileRoundTripIsAtomic()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = dir.filePath("recipe.json").toStdString();
    Plan p;
    LayerSetting s;
    s.format = WeightFormat::Int;
    s.bits = 4;
    s.granularity = Granularity::Group;
    s.groupSize = 64;
    p.setLayer("conv1.weight", s);
    p.writeFile(path);
    const Plan q = Plan::readFile(path);
    QVERIFY(p == q);
    QCOMPARE(q.source(), path);
    // No temporary file is left beside it.
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden).size(), 1);
    // A missing file names itself.
    const std::string missing = dir.filePath("none.json").toStdString();
    QVERIFY(errorOf([&] { Plan::readFile(missing); }).find(missing) == 0);
    // Errors in a file name the file.
    writeFileAtomically(path, R"({"layers": {"a": {"bits": "four"}}})");
    QCOMPARE(errorOf([&] { Plan::readFile(path); }), path + R"(: layers."a".bits: expected an integer, got a string)");
}

void TestPlan::invalidRecipes_data()
{
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("message");
    const auto row = [](const char* name, const char* json, const char* msg) {
        QTest::newRow(name) << QString(json) << QString(msg);
    };
    row("not json", "{", "plan.json: not valid JSON: ");
    row("array", "[]", "plan.json: expected a JSON object at the top level, got an array");
    row("unknown top key", R"({"defaults": {}})", R"(plan.json: defaults: unknown key (expected "default" or "layers"))");
    row("default not object", R"({"default": 3})", "plan.json: default: expected an object, got an integer");
    row("layers not object", R"({"layers": []})", "plan.json: layers: expected an object, got an array");
    row("layer not object", R"({"layers": {"a": "int4"}})", R"(plan.json: layers."a": expected an object, got a string)");
    row("empty key", R"({"layers": {"": {}}})", "plan.json: layers: a layer key is empty");
    row("bits high", R"({"layers": {"conv1*": {"bits": 9}}})", R"(plan.json: layers."conv1*".bits: 9 is outside 2..8)");
    row("bits low", R"({"default": {"bits": 1}})", "plan.json: default.bits: 1 is outside 2..8");
    row("bits negative", R"({"default": {"bits": -3}})", "plan.json: default.bits: -3 is outside 2..8");
    row("bits float", R"({"default": {"bits": 4.0}})", "plan.json: default.bits: expected an integer, got a number");
    row("bits string", R"({"default": {"bits": "4"}})", "plan.json: default.bits: expected an integer, got a string");
    row("format", R"({"default": {"format": "int4"}})",
        R"(plan.json: default.format: "int4" is not one of float32, float16, bfloat16, int, q8_0, q6_K, q5_K, q5_1, q5_0, q4_K, q4_1, q4_0, q3_K, q2_K)");
    row("format type", R"({"default": {"format": 4}})",
        "plan.json: default.format: expected a string (one of float32, float16, bfloat16, int, q8_0, q6_K, q5_K, q5_1, q5_0, "
        "q4_K, q4_1, q4_0, q3_K, q2_K), got an integer");
    row("granularity", R"({"layers": {"a": {"granularity": "row"}}})",
        R"(plan.json: layers."a".granularity: "row" is not one of tensor, channel, group)");
    row("clip", R"({"default": {"clip": "percentile"}})",
        R"(plan.json: default.clip: "percentile" is not one of minmax, mse)");
    row("pattern", R"({"default": {"pattern": "1:4"}})",
        R"(plan.json: default.pattern: "1:4" is not one of unstructured, 2:4, 4:8, channel)");
    row("group size", R"({"default": {"group_size": 48}})", "plan.json: default.group_size: 48 is not one of 32, 64, 128");
    row("group size type", R"({"default": {"group_size": true}})",
        "plan.json: default.group_size: expected an integer, got a boolean");
    row("symmetric", R"({"default": {"symmetric": 1}})", "plan.json: default.symmetric: expected a boolean, got an integer");
    row("sparsity one", R"({"default": {"sparsity": 1}})", "plan.json: default.sparsity: 1 is outside [0, 1)");
    row("sparsity negative", R"({"layers": {"x": {"sparsity": -0.1}}})",
        R"(plan.json: layers."x".sparsity: -0.1 is outside [0, 1))");
    row("sparsity string", R"({"default": {"sparsity": "half"}})",
        "plan.json: default.sparsity: expected a number, got a string");
    row("sparsity null", R"({"default": {"sparsity": null}})", "plan.json: default.sparsity: expected a number, got null");
    row("unknown field", R"({"layers": {"fc": {"bit": 4}}})",
        R"(plan.json: layers."fc".bit: unknown key (expected one of format, bits, granularity, group_size, symmetric, clip, sparsity, pattern))");
    row("quoted key", R"({"layers": {"a\"b": {"bits": 0}}})", R"(plan.json: layers."a\"b".bits: 0 is outside 2..8)");
    row("duplicate layer", R"({"layers": {"fc*": {"bits": 4}, "fc*": {"bits": 2}}})",
        R"(plan.json: key "fc*" is given twice in one object)");
    row("duplicate field", R"({"default": {"bits": 4, "bits": 8}})", R"(plan.json: key "bits" is given twice in one object)");
}

void TestPlan::invalidRecipes()
{
    QFETCH(QString, json);
    QFETCH(QString, message);
    const std::string got = errorOf([&] { Plan::fromJson(json.toStdString(), "plan.json"); });
    if (message.endsWith(": ")) // the parser's own text follows
        QVERIFY2(got.rfind(message.toStdString(), 0) == 0, got.c_str());
    else
        QCOMPARE(QString::fromStdString(got), message);
}

QTEST_APPLESS_MAIN(TestPlan)
#include "tst_plan.moc"
