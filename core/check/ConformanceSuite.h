#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace leger {

/// Allowed difference |got - expected| <= atol + rtol * |expected| (the ONNX backend test defaults).
struct ConformanceTolerance {
    double rtol = 1e-3;
    double atol = 1e-7;
};

/// Runs ONNX backend node tests (a folder per test: model.onnx + test_data_set_N/{input,output}_K.pb)
/// and compares Leger's outputs with the expected ones.
class ConformanceSuite {
public:
    enum class Status { Passed, Failed, Unsupported };
    struct Result {
        std::string test;
        Status status = Status::Passed;
        std::string detail;             // why it failed or is unsupported; for a pass, the erratum applied
        std::vector<std::string> ops;   // op types the test uses
    };
    using Tolerance = ConformanceTolerance;

    /// Runs one test folder.
    static Result runTest(const std::string& dir, Tolerance tol = {});
    /// Runs every test folder (one holding model.onnx) at any depth under root whose path from
    /// root contains filter (all if empty), sorted by path.
    static std::vector<Result> runAll(const std::string& root, const std::string& filter = {}, Tolerance tol = {},
                                      const std::function<void(const Result&)>& progress = {});
    /// The per-op table, the lists of failures and unsupported tests, and the closing line
    /// "conformance: N passed, M failed, K unsupported".
    static std::string report(const std::vector<Result>& results);
};

} // namespace leger
