#include "check/ConformanceSuite.h"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "io/OnnxReader.h"
#include "runtime/Executor.h"
#include "util/Error.h"

namespace leger {

namespace fs = std::filesystem;

namespace {

void collectOps(const Graph& g, std::set<std::string>& ops)
{
    for (const auto& n : g.nodes) {
        ops.insert(n.opType);
        for (const auto& [k, a] : n.attributes) {
            if (a.g)
                collectOps(*a.g, ops);
            for (const auto& sub : a.graphs)
                collectOps(*sub, ops);
        }
    }
}

/// Empty if equal within tolerance, else what differs.
std::string compare(const Tensor& got, const Tensor& want, ConformanceSuite::Tolerance tol)
{
    if (got.dtype() != want.dtype())
        return "type " + std::string(dtypeName(got.dtype())) + ", expected " + std::string(dtypeName(want.dtype()));
    if (got.shape() != want.shape())
        return "shape " + shapeToString(got.shape()) + ", expected " + shapeToString(want.shape());
    if (got.dtype() == DType::String) {
        for (std::int64_t i = 0; i < got.size(); ++i)
            if (got.strings()[static_cast<std::size_t>(i)] != want.strings()[static_cast<std::size_t>(i)])
                return "string " + std::to_string(i) + " differs";
        return {};
    }
    const bool floating = isFloating(got.dtype());
    for (std::int64_t i = 0; i < got.size(); ++i) {
        const double a = got.at(i), e = want.at(i);
        bool ok;
        if (floating) {
            if (std::isnan(e))
                ok = std::isnan(a);
            else if (std::isinf(e))
                ok = a == e;
            else
                ok = std::abs(a - e) <= tol.atol + tol.rtol * std::abs(e);
        } else {
            ok = a == e;
        }
        if (!ok) {
            std::ostringstream s;
            s.precision(9);
            s << "element " << i << " is " << a << ", expected " << e;
            return s.str();
        }
    }
    return {};
}

/// Tests whose data ONNX later corrected. Each is still checked, in the way stated.
struct Erratum {
    const char* test;
    bool relaxInputShapes; // the 'like' input's file has another shape than the model declares
    bool bfloat16Ulp;      // accept one bfloat16 ulp: the data truncates, ONNX and ORT round to nearest even
    const char* note;
};
constexpr Erratum kErrata[] = {
    {"test_cast_FLOAT_to_BFLOAT16", false, true,
     "expected bfloat16 values were made by truncation; Leger rounds to nearest even like ONNX's helper and "
     "ONNX Runtime (onnx/onnx#3876): compared within 1 bfloat16 ulp"},
    {"test_castlike_FLOAT_to_BFLOAT16", true, true,
     "'like' input file is [1] where the model declares [3, 4]; bfloat16 compared within 1 ulp (truncated data)"},
    {"test_castlike_FLOAT_to_BFLOAT16_expanded", true, true,
     "'like' input file is [1] where the model declares [3, 4]; bfloat16 compared within 1 ulp (truncated data)"},
    {"test_castlike_BFLOAT16_to_FLOAT", true, false, "'like' input file is [1] where the model declares [3, 4]"},
    {"test_castlike_BFLOAT16_to_FLOAT_expanded", true, false, "'like' input file is [1] where the model declares [3, 4]"},
};

const Erratum* erratumFor(const std::string& test)
{
    for (const auto& e : kErrata)
        if (test == e.test)
            return &e;
    return nullptr;
}

/// Empty if every bfloat16 element is within one ulp (adjacent bit patterns of one sign).
std::string compareWithinOneUlp(const Tensor& got, const Tensor& want)
{
    if (got.dtype() != DType::BFloat16 || want.dtype() != DType::BFloat16 || got.shape() != want.shape())
        return "expected bfloat16 tensors of one shape";
    for (std::int64_t i = 0; i < got.size(); ++i) {
        const int a = got.data<BFloat16>()[i].bits, e = want.data<BFloat16>()[i].bits;
        if (std::abs(a - e) > 1 || ((a ^ e) & 0x8000))
            return "element " + std::to_string(i) + " differs by more than one ulp";
    }
    return {};
}

/// ONNX 1.12's test data stores bfloat16 tensors with data_type UINT16 (numpy has no
/// bfloat16); the bits are the same, so retag them as the model declares.
void retagLegacyBFloat16(Tensor& t, DType declared)
{
    if (declared == DType::BFloat16 && t.dtype() == DType::UInt16) {
        Tensor bf(DType::BFloat16, t.shape());
        std::memcpy(bf.raw(), t.raw(), t.byteSize());
        t = std::move(bf);
    }
}

std::vector<fs::path> sortedFiles(const fs::path& dir, const std::string& prefix)
{
    std::vector<std::pair<int, fs::path>> files;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (name.rfind(prefix, 0) == 0 && e.path().extension() == ".pb")
            files.emplace_back(std::stoi(name.substr(prefix.size())), e.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<fs::path> out;
    for (auto& f : files)
        out.push_back(f.second);
    return out;
}

} // namespace

ConformanceSuite::Result ConformanceSuite::runTest(const std::string& dir, Tolerance tol)
{
    Result r;
    r.test = fs::path(dir).filename().string();
    try {
        const Model model = OnnxReader::readModel((fs::path(dir) / "model.onnx").string());
        std::set<std::string> ops;
        collectOps(model.graph, ops);
        r.ops.assign(ops.begin(), ops.end());
        for (const auto& in : model.graph.inputs)
            if (!in.isTensor)
                throw UnsupportedError("input '" + in.name + "' is not a tensor (sequence or optional)");
        for (const auto& out : model.graph.outputs)
            if (!out.isTensor)
                throw UnsupportedError("output '" + out.name + "' is not a tensor (sequence or optional)");
        const Erratum* erratum = erratumFor(r.test);
        Executor::Options options;
        options.checkInputShapes = !(erratum && erratum->relaxInputShapes);
        Executor exec(model, options);
        std::vector<fs::path> sets;
        for (const auto& e : fs::directory_iterator(dir))
            if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
                sets.push_back(e.path());
        std::sort(sets.begin(), sets.end());
        if (sets.empty())
            throw Error("no test_data_set_* folder");
        for (const auto& set : sets) {
            std::vector<Tensor> inputs;
            for (const auto& f : sortedFiles(set, "input_")) {
                inputs.push_back(OnnxReader::readTensor(f.string()));
                if (inputs.size() <= model.graph.inputs.size())
                    retagLegacyBFloat16(inputs.back(), model.graph.inputs[inputs.size() - 1].dtype);
            }
            std::vector<Tensor> expected;
            for (const auto& f : sortedFiles(set, "output_")) {
                expected.push_back(OnnxReader::readTensor(f.string()));
                if (expected.size() <= model.graph.outputs.size())
                    retagLegacyBFloat16(expected.back(), model.graph.outputs[expected.size() - 1].dtype);
            }
            if (inputs.size() != exec.inputNames().size())
                throw Error(set.filename().string() + ": " + std::to_string(inputs.size()) + " input files for " +
                            std::to_string(exec.inputNames().size()) + " graph inputs");
            if (expected.size() != exec.outputNames().size())
                throw Error(set.filename().string() + ": " + std::to_string(expected.size()) + " output files for " +
                            std::to_string(exec.outputNames().size()) + " graph outputs");
            std::vector<const Tensor*> ptrs;
            for (const auto& t : inputs)
                ptrs.push_back(&t);
            exec.run(ptrs);
            for (std::size_t k = 0; k < expected.size(); ++k) {
                const std::string diff = erratum && erratum->bfloat16Ulp
                                             ? compareWithinOneUlp(exec.output(k), expected[k])
                                             : compare(exec.output(k), expected[k], tol);
                if (!diff.empty())
                    throw Error(set.filename().string() + ": output '" + exec.outputNames()[k] + "': " + diff);
            }
        }
        r.status = Status::Passed;
        if (erratum)
            r.detail = erratum->note;
    } catch (const UnsupportedError& e) {
        r.status = Status::Unsupported;
        r.detail = e.what();
    } catch (const std::exception& e) {
        r.status = Status::Failed;
        r.detail = e.what();
    }
    return r;
}

std::vector<ConformanceSuite::Result> ConformanceSuite::runAll(const std::string& root, const std::string& filter,
                                                               Tolerance tol,
                                                               const std::function<void(const Result&)>& progress)
{
    std::error_code ec;
    if (!fs::is_directory(root, ec))
        throw Error(root + ": not a folder of ONNX backend tests");
    // Any folder below root that holds a model.onnx is a test, named by its path from root.
    std::vector<fs::path> dirs;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_directory() && fs::exists(e.path() / "model.onnx") &&
            (filter.empty() || fs::relative(e.path(), root).string().find(filter) != std::string::npos))
            dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    std::vector<Result> results;
    for (const auto& d : dirs) {
        results.push_back(runTest(d.string(), tol));
        results.back().test = fs::relative(d, root).string();
        if (progress)
            progress(results.back());
    }
    return results;
}

std::string ConformanceSuite::report(const std::vector<Result>& results)
{
    struct Counts {
        int passed = 0, failed = 0, unsupported = 0;
    };
    std::map<std::string, Counts> perOp;
    Counts total;
    for (const auto& r : results) {
        auto bump = [&](Counts& c) {
            (r.status == Status::Passed ? c.passed : r.status == Status::Failed ? c.failed : c.unsupported)++;
        };
        bump(total);
        for (const auto& op : r.ops)
            bump(perOp[op]);
    }
    std::ostringstream s;
    s << "op                              tests  passed  failed  unsupported\n";
    for (const auto& [op, c] : perOp) {
        char line[128];
        std::snprintf(line, sizeof line, "%-30s %6d  %6d  %6d  %11d\n", op.c_str(), c.passed + c.failed + c.unsupported,
                      c.passed, c.failed, c.unsupported);
        s << line;
    }
    s << "\nfailed:\n";
    for (const auto& r : results)
        if (r.status == Status::Failed)
            s << "  " << r.test << ": " << r.detail << "\n";
    s << "\nunsupported:\n";
    for (const auto& r : results)
        if (r.status == Status::Unsupported)
            s << "  " << r.test << ": " << r.detail << "\n";
    s << "\npassed with a test-data erratum (checked as stated):\n";
    for (const auto& r : results)
        if (r.status == Status::Passed && !r.detail.empty())
            s << "  " << r.test << ": " << r.detail << "\n";
    s << "\nconformance: " << total.passed << " passed, " << total.failed << " failed, " << total.unsupported
      << " unsupported\n";
    return s.str();
}

} // namespace leger
