#include "io/OnnxWriter.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <unordered_set>

#include <google/protobuf/io/coded_stream.h>
#include <onnx/onnx_pb.h>

#include "compress/CompressedWeight.h"
#include "model/Layer.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger {

namespace fs = std::filesystem;
using TP = onnx::TensorProto;

namespace {

// onnx::TensorProto data types of ONNX 1.16 (IR 10) that Debian's onnx 1.12 headers do not name.
constexpr int kUInt4 = 21;
constexpr int kInt4 = 22;

// ---- loading and saving -----------------------------------------------------------------------

onnx::ModelProto parseModel(const std::string& path)
{
    const std::string bytes = readFile(path);
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw Error(path + ": file is larger than 2 GB; such models must keep their weights in external data files");
    onnx::ModelProto proto;
    google::protobuf::io::CodedInputStream stream(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                                  static_cast<int>(bytes.size()));
    stream.SetTotalBytesLimit(std::numeric_limits<int>::max());
    stream.SetRecursionLimit(200);
    // protobuf can stop silently at its size limit on a field boundary: check every byte was read.
    if (!proto.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage() ||
        static_cast<std::size_t>(stream.CurrentPosition()) != bytes.size())
        throw Error(path + ": not a valid ONNX model (corrupt or truncated protobuf)");
    if (!proto.has_graph())
        throw Error(path + ": the model has no graph (is this an ONNX file?)");
    return proto;
}

struct ExternalFiles {
    fs::path dir;
    std::string modelPath;
    std::map<std::string, std::string> files;
};

/// Moves a tensor's external data into raw_data.
void inlineTensor(TP& t, ExternalFiles& ext)
{
    if (t.data_location() != TP::EXTERNAL)
        return;
    const std::string where = ext.modelPath + ": tensor '" + t.name() + "'";
    std::string location;
    std::int64_t offset = 0, length = -1;
    for (const auto& kv : t.external_data()) {
        if (kv.key() == "location") {
            location = kv.value();
        } else if (kv.key() == "offset" || kv.key() == "length") {
            try {
                (kv.key() == "offset" ? offset : length) = std::stoll(kv.value());
            } catch (...) {
                throw Error(where + ": external data " + kv.key() + " '" + kv.value() + "' is not a number");
            }
        }
    }
    const fs::path rel(location);
    bool escapes = location.empty() || rel.is_absolute() || rel.has_root_name();
    for (const auto& part : rel)
        escapes = escapes || part == "..";
    if (escapes)
        throw Error(where + ": external data location '" + location + "' is missing or leaves the model's folder");
    auto it = ext.files.find(location);
    if (it == ext.files.end())
        it = ext.files.emplace(location, readFile((ext.dir / rel).string())).first;
    const std::string& file = it->second;
    const auto size = static_cast<std::int64_t>(file.size());
    if (length < 0)
        length = size - offset;
    if (offset < 0 || offset > size || length < 0 || size - offset < length)
        throw Error(where + ": external data file '" + location + "' is too short (truncated?)");
    t.set_raw_data(file.substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(length)));
    t.clear_external_data();
    t.set_data_location(TP::DEFAULT);
}

void inlineGraph(onnx::GraphProto& g, ExternalFiles& ext)
{
    for (auto& t : *g.mutable_initializer())
        inlineTensor(t, ext);
    for (auto& n : *g.mutable_node())
        for (auto& a : *n.mutable_attribute()) {
            if (a.has_t())
                inlineTensor(*a.mutable_t(), ext);
            for (auto& t : *a.mutable_tensors())
                inlineTensor(t, ext);
            if (a.has_g())
                inlineGraph(*a.mutable_g(), ext);
            for (auto& sg : *a.mutable_graphs())
                inlineGraph(sg, ext);
        }
}

/// The model with its external data read in: the export writes one self-contained file.
onnx::ModelProto loadModel(const std::string& path)
{
    onnx::ModelProto proto = parseModel(path);
    ExternalFiles ext{fs::path(path).parent_path(), path, {}};
    inlineGraph(*proto.mutable_graph(), ext);
    return proto;
}

void saveModel(const onnx::ModelProto& proto, const std::string& outPath)
{
    const std::size_t bytes = proto.ByteSizeLong();
    if (bytes > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw UnsupportedError(outPath + ": the exported model would be " + std::to_string(bytes) +
                               " bytes; ONNX files over 2 GB need external data, which the export does not write");
    std::string out;
    if (!proto.SerializeToString(&out))
        throw Error(outPath + ": could not serialize the model");
    writeFileAtomically(outPath, out);
}

// ---- names and graph edits --------------------------------------------------------------------

/// Every name used in the model, so that new values and initializers never collide.
class NameTable {
public:
    explicit NameTable(const onnx::GraphProto& g) { collect(g); }
    std::string unique(const std::string& base)
    {
        std::string name = base;
        for (int i = 1; used_.count(name); ++i)
            name = base + "_" + std::to_string(i);
        used_.insert(name);
        return name;
    }

private:
    void collect(const onnx::GraphProto& g)
    {
        for (const auto& t : g.initializer())
            used_.insert(t.name());
        for (const auto& v : g.input())
            used_.insert(v.name());
        for (const auto& v : g.output())
            used_.insert(v.name());
        for (const auto& v : g.value_info())
            used_.insert(v.name());
        for (const auto& n : g.node()) {
            used_.insert(n.name());
            used_.insert(n.output().begin(), n.output().end());
            for (const auto& a : n.attribute()) {
                if (a.has_g())
                    collect(a.g());
                for (const auto& sg : a.graphs())
                    collect(sg);
            }
        }
    }
    std::unordered_set<std::string> used_;
};

TP makeTensor(const std::string& name, int dataType, const Shape& dims, std::string raw)
{
    TP t;
    t.set_name(name);
    t.set_data_type(dataType);
    for (std::int64_t d : dims)
        t.add_dims(d);
    t.set_raw_data(std::move(raw));
    return t;
}

template <class T> std::string rawBytes(const std::vector<T>& v)
{
    std::string s(v.size() * sizeof(T), '\0');
    if (!v.empty())
        std::memcpy(s.data(), v.data(), s.size());
    return s;
}

void setIntAttr(onnx::NodeProto& n, const std::string& name, std::int64_t v)
{
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}

void setIntsAttr(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v)
{
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (std::int64_t x : v)
        a->add_ints(x);
}

/// Builds the nodes and initializers that compute one weight; the last node's output (or, with
/// no node, the only initializer) takes the weight's name.
class WeightBuilder {
public:
    WeightBuilder(onnx::GraphProto& g, NameTable& names, std::string weight)
        : g_(g), names_(names), weight_(std::move(weight))
    {
    }

    std::string initializer(const std::string& suffix, int dataType, const Shape& dims, std::string raw)
    {
        const std::string name = names_.unique(weight_ + suffix);
        *g_.add_initializer() = makeTensor(name, dataType, dims, std::move(raw));
        return name;
    }
    std::string int64s(const std::string& suffix, const std::vector<std::int64_t>& v)
    {
        return initializer(suffix, TP::INT64, {static_cast<std::int64_t>(v.size())}, rawBytes(v));
    }
    /// Adds op(inputs) -> a new value, returned; the node can take attributes afterwards.
    onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs)
    {
        onnx::NodeProto& n = nodes_.emplace_back();
        n.set_op_type(op);
        n.set_name(names_.unique(weight_ + "_" + op));
        for (const auto& i : inputs)
            n.add_input(i);
        n.add_output(names_.unique(weight_ + "_" + op + "_out"));
        return n;
    }
    /// The value the weight comes from (node outputs read it), as an initializer.
    std::string value(const std::string& suffix, int dataType, const Shape& dims, std::string raw)
    {
        current_ = initializer(suffix, dataType, dims, std::move(raw));
        return current_;
    }
    std::string last() const { return nodes_.empty() ? current_ : nodes_.back().output(0); }
    void reshape(const Shape& dims) { node("Reshape", {last(), int64s("_shape", dims)}); }
    void transpose(const std::vector<std::int64_t>& perm) { setIntsAttr(node("Transpose", {last()}), "perm", perm); }
    void cast(int to) { setIntAttr(node("Cast", {last()}), "to", to); }

    /// Gives the final value the weight's name; the nodes go in front of the graph's (they read
    /// initializers only, so the graph stays topologically sorted).
    void finish(std::vector<onnx::NodeProto>& front)
    {
        if (nodes_.empty()) {
            for (auto& t : *g_.mutable_initializer())
                if (t.name() == current_)
                    t.set_name(weight_);
            return;
        }
        nodes_.back().set_output(0, weight_);
        for (auto& n : nodes_)
            front.push_back(std::move(n));
    }

private:
    onnx::GraphProto& g_;
    NameTable& names_;
    std::string weight_;
    std::vector<onnx::NodeProto> nodes_;
    std::string current_;
};

/// Removes the weight `name` from the main graph (an initializer or a Constant node's value, and
/// its graph-input entry of IR < 4 models) and returns it.
TP takeWeight(onnx::GraphProto& g, const std::string& name, const std::string& where)
{
    TP out;
    bool found = false;
    auto* inits = g.mutable_initializer();
    for (int i = 0; i < inits->size(); ++i)
        if (inits->Get(i).name() == name) {
            out = inits->Get(i);
            inits->DeleteSubrange(i, 1);
            found = true;
            break;
        }
    if (!found) {
        auto* nodes = g.mutable_node();
        for (int i = 0; i < nodes->size() && !found; ++i) {
            const auto& n = nodes->Get(i);
            if (n.op_type() != "Constant" || n.output_size() != 1 || n.output(0) != name ||
                !(n.domain().empty() || n.domain() == "ai.onnx"))
                continue;
            for (const auto& a : n.attribute())
                if (a.name() == "value" && a.has_t()) {
                    out = a.t();
                    out.set_name(name);
                    found = true;
                }
            if (!found)
                throw UnsupportedError(where + ": the Constant node defining weight '" + name + "' has no tensor value");
            nodes->DeleteSubrange(i, 1);
        }
    }
    if (!found)
        throw Error(where + ": the model has no initializer or Constant node named '" + name + "'");
    auto* inputs = g.mutable_input();
    for (int i = 0; i < inputs->size(); ++i)
        if (inputs->Get(i).name() == name) {
            inputs->DeleteSubrange(i, 1);
            break;
        }
    return out;
}

Shape dimsOf(const TP& t) { return Shape(t.dims().begin(), t.dims().end()); }

void prependNodes(onnx::GraphProto& g, std::vector<onnx::NodeProto>& front)
{
    if (front.empty())
        return;
    google::protobuf::RepeatedPtrField<onnx::NodeProto> all;
    for (auto& n : front)
        *all.Add() = std::move(n);
    for (auto& n : *g.mutable_node())
        *all.Add() = std::move(n);
    g.mutable_node()->Swap(&all);
    front.clear();
}

// ---- opsets -----------------------------------------------------------------------------------

onnx::OperatorSetIdProto* defaultOpsetEntry(onnx::ModelProto& m)
{
    for (auto& op : *m.mutable_opset_import())
        if (op.domain().empty() || op.domain() == "ai.onnx")
            return &op;
    return nullptr;
}

/// The IR version an opset came with (checkers want at least that one).
std::int64_t irVersionFor(int opset)
{
    if (opset >= 21)
        return 10;
    if (opset >= 19)
        return 9;
    if (opset >= 15)
        return 8;
    if (opset >= 12)
        return 7;
    if (opset >= 11)
        return 6;
    return 5;
}

/// Every operator of the default domain up to opset 21 (onnx.defs of onnx 1.12 for opsets <= 17,
/// plus the operators opsets 18-21 added, from ONNX's Changelog.md).
const std::set<std::string, std::less<>>& knownOps()
{
    static const std::set<std::string, std::less<>> ops = [] {
        const char* text =
            "Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Bernoulli "
            "BitShift BlackmanWindow Cast CastLike Ceil Celu Clip Compress Concat ConcatFromSequence Constant "
            "ConstantOfShape Conv ConvInteger ConvTranspose Cos Cosh CumSum DFT DepthToSpace DequantizeLinear Det Div "
            "Dropout DynamicQuantizeLinear Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor GRU Gather "
            "GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual "
            "GridSample HammingWindow HannWindow HardSigmoid HardSwish Hardmax Identity If InstanceNormalization IsInf "
            "IsNaN LRN LSTM LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LpNormalization LpPool "
            "MatMul MatMulInteger Max MaxPool MaxRoiPool MaxUnpool Mean MeanVarianceNormalization MelWeightMatrix Min "
            "Mod Mul Multinomial Neg NegativeLogLikelihoodLoss NonMaxSuppression NonZero Not OneHot Optional "
            "OptionalGetElement OptionalHasElement Or PRelu Pad Pow QLinearConv QLinearMatMul QuantizeLinear RNN "
            "RandomNormal RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 "
            "ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu "
            "Reshape Resize ReverseSequence RoiAlign Round STFT Scan Scatter ScatterElements ScatterND Selu "
            "SequenceAt SequenceConstruct SequenceEmpty SequenceErase SequenceInsert SequenceLength SequenceMap Shape "
            "Shrink Sigmoid Sign Sin Sinh Size Slice Softmax SoftmaxCrossEntropyLoss Softplus Softsign SpaceToDepth "
            "Split SplitToSequence Sqrt Squeeze StringNormalizer Sub Sum Tan Tanh TfIdfVectorizer ThresholdedRelu "
            "Tile TopK Transpose Trilu Unique Unsqueeze Upsample Where Xor "
            // opset 18-20
            "BitwiseAnd BitwiseNot BitwiseOr BitwiseXor CenterCropPad Col2Im GroupNormalization Mish DeformConv "
            "AffineGrid Gelu ImageDecoder RegexFullMatch StringConcat StringSplit";
        std::set<std::string, std::less<>> s;
        std::string word;
        for (const char* p = text;; ++p) {
            if (*p == ' ' || *p == '\0') {
                if (!word.empty())
                    s.insert(word);
                word.clear();
                if (!*p)
                    break;
            } else {
                word += *p;
            }
        }
        return s;
    }();
    return ops;
}

/// The opsets (from 8 on) at which an operator's meaning changed so that a node written for an
/// older opset may compute something else or be invalid at the newer one: attributes moved to
/// inputs or removed, defaults or semantics changed. Versions that only added types or optional
/// attributes whose defaults keep the old behaviour are not listed (ONNX's Changelog.md, checked
/// against onnx.defs' version history for opsets <= 17).
std::vector<int> breakingVersions(std::string_view op)
{
    static const std::map<std::string, std::vector<int>, std::less<>> table = {
        {"BatchNormalization", {9, 14}}, // `spatial` removed; running statistics outputs only in training mode
        {"Clip", {11}},               // min/max attributes -> inputs
        {"Dropout", {10, 12}},        // mask type; ratio attribute -> input
        {"Hardmax", {13}},            // axis: coerced 2-D -> one axis
        {"LogSoftmax", {13}},
        {"Softmax", {13}},
        {"Pad", {11}},                // pads/value attributes -> inputs
        {"ReduceSum", {13}},          // axes attribute -> input
        {"ReduceL1", {18}}, {"ReduceL2", {18}}, {"ReduceLogSum", {18}}, {"ReduceLogSumExp", {18}},
        {"ReduceMax", {18}}, {"ReduceMean", {18}}, {"ReduceMin", {18}}, {"ReduceProd", {18}},
        {"ReduceSumSquare", {18}},
        {"Resize", {11}},             // coordinate transformation modes
        {"RoiAlign", {16}},           // default coordinate_transformation_mode
        {"Scan", {9}},                // batch axis removed
        {"Scatter", {11}},            // deprecated
        {"Slice", {10}},              // attributes -> inputs
        {"Split", {13, 18}},          // split attribute -> input; num_outputs
        {"Squeeze", {13}},            // axes attribute -> input
        {"Unsqueeze", {13}},
        {"TopK", {10}},               // k attribute -> input
        {"Upsample", {9, 10}},        // scales -> input; deprecated
        {"DFT", {20}},                // axis attribute -> input
        {"GridSample", {20}},         // mode names
        {"GroupNormalization", {21}}, // scale/bias per group -> per channel
    };
    auto it = table.find(op);
    return it == table.end() ? std::vector<int>{} : it->second;
}

const onnx::AttributeProto* findAttr(const onnx::NodeProto& n, std::string_view name)
{
    for (const auto& a : n.attribute())
        if (a.name() == name)
            return &a;
    return nullptr;
}

void removeAttr(onnx::NodeProto& n, std::string_view name)
{
    auto* attrs = n.mutable_attribute();
    for (int i = 0; i < attrs->size(); ++i)
        if (attrs->Get(i).name() == name) {
            attrs->DeleteSubrange(i, 1);
            return;
        }
}

/// Checks whether every default-domain node of g (and its subgraphs) keeps its meaning when the
/// model's opset goes from `from` to `to`; with apply, also rewrites the nodes that need it (an
/// attribute that became an input). Problems are appended to `problems`.
void raiseNodes(onnx::GraphProto& g, int from, int to, bool apply, NameTable& names, std::vector<std::string>& problems)
{
    for (int ni = 0; ni < g.node_size(); ++ni) {
        onnx::NodeProto& n = *g.mutable_node(ni);
        for (auto& a : *n.mutable_attribute()) {
            if (a.has_g())
                raiseNodes(*a.mutable_g(), from, to, apply, names, problems);
            for (auto& sg : *a.mutable_graphs())
                raiseNodes(sg, from, to, apply, names, problems);
        }
        if (!(n.domain().empty() || n.domain() == "ai.onnx"))
            continue;
        const std::string& op = n.op_type();
        const std::string who = "node '" + n.name() + "' (" + op + ")";
        if (!knownOps().count(op)) {
            problems.push_back(who + ": not an operator of opsets up to 21");
            continue;
        }
        if (from < 8) {
            problems.push_back(who + ": the model's opset " + std::to_string(from) + " is older than 8");
            continue;
        }
        for (int v : breakingVersions(op)) {
            if (v <= from || v > to)
                continue;
            // An `axes` / `split` attribute that became input 1: move it there.
            const bool axesToInput = (v == 13 && (op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum")) ||
                                     (v == 18 && op.rfind("Reduce", 0) == 0);
            if (axesToInput || (v == 13 && op == "Split")) {
                const char* attr = op == "Split" ? "split" : "axes";
                const onnx::AttributeProto* a = findAttr(n, attr);
                if (!a)
                    continue; // absent before and after: the same default
                if (n.input_size() != 1) {
                    problems.push_back(who + ": unexpected inputs for moving '" + attr + "' to an input");
                    continue;
                }
                if (apply) {
                    const std::vector<std::int64_t> vals(a->ints().begin(), a->ints().end());
                    const std::string name = names.unique(n.name().empty() ? op + "_" + attr : n.name() + "_" + attr);
                    *g.add_initializer() =
                        makeTensor(name, TP::INT64, {static_cast<std::int64_t>(vals.size())}, rawBytes(vals));
                    n.add_input(name);
                    removeAttr(n, attr);
                }
                continue;
            }
            if (v == 18 && op == "Split") {
                // Split-18 wants the `split` input or num_outputs; equal parts before stay equal parts.
                const bool hasSplit = n.input_size() > 1 && !n.input(1).empty();
                if (!hasSplit && !findAttr(n, "num_outputs") && apply)
                    setIntAttr(n, "num_outputs", n.output_size());
                continue;
            }
            if (v == 14 && op == "BatchNormalization") {
                // Inference (one output) is unchanged; the optional statistics outputs are not.
                bool extra = false;
                for (int o = 1; o < n.output_size(); ++o)
                    extra = extra || !n.output(o).empty();
                if (!extra)
                    continue;
            }
            if (v == 13 && (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax")) {
                // The last axis means the same before and after 13 (coerced 2-D (.., last) vs one axis).
                const onnx::AttributeProto* a = findAttr(n, "axis");
                if (a && a->i() == -1)
                    continue;
            }
            problems.push_back(who + ": its meaning changes at opset " + std::to_string(v));
        }
    }
}

/// Raises the default-domain opset to `to` if every node keeps its meaning; else lists why not.
bool raiseOpset(onnx::ModelProto& m, int to, NameTable& names, std::vector<std::string>& problems)
{
    onnx::OperatorSetIdProto* entry = defaultOpsetEntry(m);
    const int from = static_cast<int>(entry->version());
    if (from >= to)
        return true;
    raiseNodes(*m.mutable_graph(), from, to, false, names, problems);
    for (const auto& f : m.functions())
        problems.push_back("model-local function '" + f.name() + "' is not checked");
    if (!problems.empty())
        return false;
    raiseNodes(*m.mutable_graph(), from, to, true, names, problems);
    entry->set_version(to);
    m.set_ir_version(std::max<std::int64_t>(m.ir_version(), irVersionFor(to)));
    return true;
}

// ---- weights ----------------------------------------------------------------------------------

/// Where weight (r, c) of a layer's matrix view sits in the original tensor (row-major): row r
/// at r * cols, or, for `transposed` layers stored (P, K = cols, N), at (b * K + c) * N + n with
/// r = b * N + n.
struct MatrixLayout {
    std::int64_t rows = 0, cols = 0, n = 1;
    bool transposed = false;
    std::int64_t index(std::int64_t r, std::int64_t c) const
    {
        return transposed ? ((r / n) * cols + c) * n + r % n : r * cols + c;
    }
};

/// How an integer layer is stored.
enum class IntForm {
    Tensor,       // original shape, one scale
    AxisOriginal, // original shape, per-axis on `axis`
    Axis2d,       // (rows, cols) per-axis on axis 0, then reshaped (and transposed) back
    Blocked,      // opset 21 blocked: (rows, cols) or the original shape, blocks along the input axis
    Groups2d,     // 8-bit fallback for groups: (rows * groups, G) per-axis on axis 0, sliced, reshaped back
    Float,        // dequantized float values (no opset for anything better)
};

/// Brings a (rows, cols) row-major value back to the original shape: transposed layers go
/// through (P, N, K) -> (P, K, N).
void reshapeBack(WeightBuilder& b, const MatrixLayout& lay, const Shape& orig)
{
    if (!lay.transposed) {
        if (orig != Shape{lay.rows, lay.cols})
            b.reshape(orig);
        return;
    }
    const std::int64_t p = lay.rows / lay.n;
    b.reshape({p, lay.n, lay.cols});
    b.transpose({0, 2, 1});
    if (orig.size() != 3)
        b.reshape(orig);
}

struct ExportContext {
    int opset = 0;
    std::vector<std::string>* warnings = nullptr;
    bool* wroteInt4 = nullptr; // INT4/UINT4 tensors need IR version 10
};

void exportIntLayer(WeightBuilder& b, const CompressedWeight& cw, const MatrixLayout& lay, const Shape& orig,
                    int origType, const ExportContext& ctx, const std::string& name)
{
    const bool sym = cw.setting.symmetric;
    const int bits = cw.setting.bits;
    const std::int64_t rows = cw.rows, cols = cw.cols;
    const std::int64_t groups = cw.groupsPerRow();
    const Granularity gran =
        cw.perTensor() ? Granularity::Tensor : (groups == 1 ? Granularity::Channel : Granularity::Group);
    const std::int64_t rank = static_cast<std::int64_t>(orig.size());

    IntForm form = IntForm::Float;
    std::int64_t axis = 0;
    if (gran == Granularity::Tensor && ctx.opset >= 10) {
        form = IntForm::Tensor;
    } else if (gran == Granularity::Channel && ctx.opset >= 13) {
        form = IntForm::Axis2d;
        if (lay.transposed) {
            if (rows == lay.n) { // P == 1: channels are the last axis
                form = IntForm::AxisOriginal;
                axis = rank - 1;
            }
        } else {
            for (std::int64_t a = 0; a < rank; ++a) {
                if (orig[static_cast<std::size_t>(a)] == rows) {
                    form = IntForm::AxisOriginal;
                    axis = a;
                    break;
                }
                if (orig[static_cast<std::size_t>(a)] != 1)
                    break;
            }
        }
    } else if (gran == Granularity::Group && ctx.opset >= 21) {
        form = IntForm::Blocked;
    } else if (gran == Granularity::Group && ctx.opset >= 13) {
        form = IntForm::Groups2d;
    }
    if (form == IntForm::Float)
        ctx.warnings->push_back(name + ": stored as dequantized float32 values (DequantizeLinear " +
                                std::string(gran == Granularity::Tensor ? "needs opset 10" : "per axis needs opset 13") +
                                ", the model stays at opset " + std::to_string(ctx.opset) + ")");

    const auto codeAt = [&](std::int64_t r, std::int64_t c) -> int {
        const std::uint8_t v = cw.codes[static_cast<std::size_t>(r * cols + c)];
        return sym ? static_cast<int>(static_cast<std::int8_t>(v)) : static_cast<int>(v);
    };
    const auto zpAt = [&](std::int64_t s) -> int { return sym ? 0 : cw.zeroPoints[static_cast<std::size_t>(s)]; };

    if (form == IntForm::Float) {
        std::vector<float> vals(static_cast<std::size_t>(rows * cols));
        for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t c = 0; c < cols; ++c) {
                const std::int64_t s = cw.scaleIndex(r, c);
                vals[static_cast<std::size_t>(lay.index(r, c))] =
                    static_cast<float>(codeAt(r, c) - zpAt(s)) * cw.scales[static_cast<std::size_t>(s)];
            }
        b.value("_dequantized", TP::FLOAT, orig, rawBytes(vals));
        if (origType != TP::FLOAT)
            b.cast(origType);
        return;
    }

    // Storage shape, and for each stored element the weight it holds ((r, c), or padding).
    Shape store;
    std::vector<std::int64_t> codeSource; // r * cols + c, or -1 - scaleIndex for padding
    Shape scaleDims;
    std::vector<std::int64_t> scaleSource; // index into cw.scales
    std::int64_t blockSize = 0;
    const std::int64_t n = rows * cols;
    switch (form) {
    case IntForm::Tensor:
    case IntForm::AxisOriginal:
        store = orig;
        codeSource.resize(static_cast<std::size_t>(n));
        for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t c = 0; c < cols; ++c)
                codeSource[static_cast<std::size_t>(lay.index(r, c))] = r * cols + c;
        if (form == IntForm::Tensor) {
            scaleSource = {0};
        } else {
            scaleDims = {rows};
            for (std::int64_t r = 0; r < rows; ++r)
                scaleSource.push_back(r);
        }
        break;
    case IntForm::Axis2d:
        store = {rows, cols};
        for (std::int64_t i = 0; i < n; ++i)
            codeSource.push_back(i);
        scaleDims = {rows};
        for (std::int64_t r = 0; r < rows; ++r)
            scaleSource.push_back(r);
        break;
    case IntForm::Blocked:
        blockSize = cw.groupSize;
        if (!lay.transposed) {
            store = {rows, cols};
            axis = 1;
            for (std::int64_t i = 0; i < n; ++i)
                codeSource.push_back(i);
            scaleDims = {rows, groups};
            for (std::int64_t s = 0; s < rows * groups; ++s)
                scaleSource.push_back(s);
        } else {
            // Original (.., K, N), blocks along K: scale (.., groups, N), element (b, g, n).
            store = orig;
            axis = rank - 2;
            codeSource.resize(static_cast<std::size_t>(n));
            for (std::int64_t r = 0; r < rows; ++r)
                for (std::int64_t c = 0; c < cols; ++c)
                    codeSource[static_cast<std::size_t>(lay.index(r, c))] = r * cols + c;
            scaleDims = orig;
            scaleDims[static_cast<std::size_t>(axis)] = groups;
            const std::int64_t p = rows / lay.n;
            for (std::int64_t bi = 0; bi < p; ++bi)
                for (std::int64_t g = 0; g < groups; ++g)
                    for (std::int64_t j = 0; j < lay.n; ++j)
                        scaleSource.push_back((bi * lay.n + j) * groups + g);
        }
        break;
    case IntForm::Groups2d: {
        const std::int64_t G = cw.groupSize;
        store = {rows * groups, G};
        for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t g = 0; g < groups; ++g)
                for (std::int64_t j = 0; j < G; ++j) {
                    const std::int64_t c = g * G + j;
                    codeSource.push_back(c < cols ? r * cols + c : -1 - (r * groups + g));
                }
        scaleDims = {rows * groups};
        for (std::int64_t s = 0; s < rows * groups; ++s)
            scaleSource.push_back(s);
        break;
    }
    case IntForm::Float: break;
    }

    // Codes: 4-bit (opset 21) or 8-bit containers; padding holds the zero point (dequantizes to 0).
    const bool four = bits <= 4 && ctx.opset >= 21;
    *ctx.wroteInt4 = *ctx.wroteInt4 || four;
    const int codeType = four ? (sym ? kInt4 : kUInt4) : (sym ? TP::INT8 : TP::UINT8);
    std::vector<int> codes(codeSource.size());
    for (std::size_t i = 0; i < codeSource.size(); ++i) {
        const std::int64_t src = codeSource[i];
        codes[i] = src >= 0 ? codeAt(src / cols, src % cols) : zpAt(-1 - src);
    }
    std::string codeBytes;
    if (four) {
        codeBytes.assign((codes.size() + 1) / 2, '\0');
        for (std::size_t i = 0; i < codes.size(); ++i) // low nibble first
            codeBytes[i / 2] = static_cast<char>(static_cast<unsigned char>(codeBytes[i / 2]) |
                                                 ((static_cast<unsigned>(codes[i]) & 0xfu) << ((i & 1) * 4)));
    } else {
        codeBytes.resize(codes.size());
        for (std::size_t i = 0; i < codes.size(); ++i)
            codeBytes[i] = static_cast<char>(static_cast<std::uint8_t>(codes[i]));
    }
    const std::string q = b.initializer("_quantized", codeType, store, std::move(codeBytes));

    std::vector<float> scales;
    std::vector<int> zps;
    for (std::int64_t s : scaleSource) {
        scales.push_back(cw.scales[static_cast<std::size_t>(s)]);
        zps.push_back(zpAt(s));
    }
    std::vector<std::string> inputs{q, b.initializer("_scale", TP::FLOAT, scaleDims, rawBytes(scales))};
    if (!sym) {
        std::string zpBytes;
        if (four) {
            zpBytes.assign((zps.size() + 1) / 2, '\0');
            for (std::size_t i = 0; i < zps.size(); ++i)
                zpBytes[i / 2] = static_cast<char>(static_cast<unsigned char>(zpBytes[i / 2]) |
                                                   ((static_cast<unsigned>(zps[i]) & 0xfu) << ((i & 1) * 4)));
        } else {
            for (int z : zps)
                zpBytes.push_back(static_cast<char>(static_cast<std::uint8_t>(z)));
        }
        inputs.push_back(b.initializer("_zero_point", codeType, scaleDims, std::move(zpBytes)));
    }
    onnx::NodeProto& dq = b.node("DequantizeLinear", inputs);
    if (form != IntForm::Tensor)
        setIntAttr(dq, "axis", axis);
    if (blockSize > 0)
        setIntAttr(dq, "block_size", blockSize);

    if (form == IntForm::Axis2d) {
        reshapeBack(b, lay, orig);
    } else if (form == IntForm::Blocked && !lay.transposed) {
        if (orig != store)
            b.reshape(orig);
    } else if (form == IntForm::Groups2d) {
        const std::int64_t G = cw.groupSize;
        b.reshape({rows, groups * G});
        if (groups * G != cols)
            b.node("Slice", {b.last(), b.int64s("_starts", {0}), b.int64s("_ends", {cols}), b.int64s("_axes", {1})});
        reshapeBack(b, lay, orig);
    }
    if (origType != TP::FLOAT)
        b.cast(origType);
}

void checkWeight(const Layer& layer, const CompressedWeight& cw, const TP& orig, const std::string& where)
{
    const Shape dims = dimsOf(orig);
    const std::string w = where + ": layer '" + layer.name + "'";
    if (cw.rows != layer.rows || cw.cols != layer.cols)
        throw Error(w + ": compressed weight is " + std::to_string(cw.rows) + " x " + std::to_string(cw.cols) +
                    ", the layer's matrix view " + std::to_string(layer.rows) + " x " + std::to_string(layer.cols));
    if (dims != layer.shape || elementCount(dims) != cw.rows * cw.cols)
        throw Error(w + ": the model's tensor has shape " + shapeToString(dims) + ", the layer " +
                    shapeToString(layer.shape));
    if (orig.data_type() != TP::FLOAT && orig.data_type() != TP::FLOAT16 && orig.data_type() != TP::BFLOAT16 &&
        orig.data_type() != TP::DOUBLE)
        throw UnsupportedError(w + ": weights of element type " + std::to_string(orig.data_type()) +
                               " cannot be replaced");
    const auto n = static_cast<std::size_t>(cw.rows * cw.cols);
    switch (cw.setting.format) {
    case WeightFormat::Int:
        if (cw.codes.size() != n || cw.scales.size() != static_cast<std::size_t>(cw.scaleCount()) ||
            (!cw.setting.symmetric && cw.zeroPoints.size() != cw.scales.size()) || cw.setting.bits < 2 ||
            cw.setting.bits > 8 || (!cw.perTensor() && cw.groupSize <= 0))
            throw Error(w + ": inconsistent integer compressed weight (codes, scales or zero points)");
        break;
    case WeightFormat::Float16:
    case WeightFormat::BFloat16:
        if (cw.halves.size() != n)
            throw Error(w + ": has " + std::to_string(cw.halves.size()) + " 16-bit values, needs " + std::to_string(n));
        break;
    case WeightFormat::Float32:
        if (cw.values.size() != n)
            throw Error(w + ": has " + std::to_string(cw.values.size()) + " values, needs " + std::to_string(n));
        break;
    default:
        throw UnsupportedError(w + ": " + toString(cw.setting.format) +
                               " is a GGUF block format, which ONNX has no operator for (language models export it as GGUF)");
    }
}

/// The opset a layer's best form needs.
int wantedOpset(const CompressedWeight& cw)
{
    switch (cw.setting.format) {
    case WeightFormat::Int:
        if (cw.setting.bits <= 4 || (!cw.perTensor() && cw.groupsPerRow() > 1))
            return 21;
        return cw.perTensor() ? 10 : 13;
    case WeightFormat::BFloat16: return 13;
    default: return 0;
    }
}

} // namespace

std::vector<std::string> OnnxWriter::exportQdqOnnx(const std::string& sourceModelPath, const std::vector<Layer>& layers,
                                                   const std::vector<CompressedWeight>& weights,
                                                   const std::string& outPath)
{
    if (layers.size() != weights.size())
        throw Error(outPath + ": " + std::to_string(layers.size()) + " layers but " + std::to_string(weights.size()) +
                    " compressed weights");
    onnx::ModelProto m = loadModel(sourceModelPath);
    onnx::GraphProto& g = *m.mutable_graph();
    onnx::OperatorSetIdProto* entry = defaultOpsetEntry(m);
    if (!entry)
        throw Error(sourceModelPath + ": the model imports no default-domain (ai.onnx) opset");
    const int from = static_cast<int>(entry->version());
    NameTable names(g);
    std::vector<std::string> warnings;

    int want = 0;
    bool anyInt = false;
    for (const auto& cw : weights)
        if (!cw.setting.isNone()) {
            want = std::max(want, wantedOpset(cw));
            anyInt = anyInt || cw.setting.format == WeightFormat::Int;
        }
    // Try the best opset, then the ones the fallbacks need: 21 (int4, blocked), 13 (per-axis in
    // 8-bit containers, bfloat16), 10 (DequantizeLinear per tensor).
    int opset = from;
    for (int candidate : {21, 13, 10}) {
        if (candidate > want)
            continue;
        if (candidate <= from) {
            opset = from;
            break;
        }
        std::vector<std::string> problems;
        if (raiseOpset(m, candidate, names, problems)) {
            opset = candidate;
            break;
        }
        std::string why;
        for (std::size_t i = 0; i < problems.size() && i < 5; ++i)
            why += (i ? "; " : "") + problems[i];
        if (problems.size() > 5)
            why += "; and " + std::to_string(problems.size() - 5) + " more";
        warnings.push_back("the opset stays below " + std::to_string(candidate) + " (the model's is " +
                           std::to_string(from) + "): " + why);
    }
    if (anyInt && want >= 21 && opset < 21)
        warnings.push_back("int4 codes are stored in 8-bit containers and group scales as per-axis scales of a "
                           "(rows * groups, group size) view, since opset 21 is not available");

    bool wroteInt4 = false;
    const ExportContext ctx{opset, &warnings, &wroteInt4};
    std::vector<onnx::NodeProto> front;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const Layer& layer = layers[i];
        const CompressedWeight& cw = weights[i];
        if (cw.setting.isNone())
            continue;
        const TP orig = takeWeight(g, layer.name, sourceModelPath);
        checkWeight(layer, cw, orig, sourceModelPath);
        const Shape dims = dimsOf(orig);
        MatrixLayout lay{cw.rows, cw.cols, layer.transposed ? dims.back() : 1, layer.transposed};
        WeightBuilder b(g, names, layer.name);
        const auto n = static_cast<std::size_t>(cw.rows * cw.cols);
        switch (cw.setting.format) {
        case WeightFormat::Int: exportIntLayer(b, cw, lay, dims, orig.data_type(), ctx, layer.name); break;
        case WeightFormat::Float16:
        case WeightFormat::BFloat16: {
            const bool bf = cw.setting.format == WeightFormat::BFloat16;
            std::vector<std::uint16_t> halves(n);
            for (std::int64_t r = 0; r < cw.rows; ++r)
                for (std::int64_t c = 0; c < cw.cols; ++c)
                    halves[static_cast<std::size_t>(lay.index(r, c))] = cw.halves[static_cast<std::size_t>(r * cw.cols + c)];
            if (bf && opset < 13) {
                warnings.push_back(layer.name + ": bfloat16 stored as float32 values (Cast from bfloat16 needs opset 13)");
                std::vector<float> vals(n);
                for (std::size_t k = 0; k < n; ++k)
                    vals[k] = BFloat16{halves[k]}.toFloat();
                b.value("_bfloat16_values", TP::FLOAT, dims, rawBytes(vals));
                if (orig.data_type() != TP::FLOAT)
                    b.cast(orig.data_type());
                break;
            }
            const int type = bf ? TP::BFLOAT16 : TP::FLOAT16;
            b.value(bf ? "_bfloat16" : "_float16", type, dims, rawBytes(halves));
            if (orig.data_type() != type)
                b.cast(orig.data_type());
            break;
        }
        case WeightFormat::Float32: {
            std::vector<float> vals(n);
            for (std::int64_t r = 0; r < cw.rows; ++r)
                for (std::int64_t c = 0; c < cw.cols; ++c)
                    vals[static_cast<std::size_t>(lay.index(r, c))] = cw.values[static_cast<std::size_t>(r * cw.cols + c)];
            b.value("_pruned", TP::FLOAT, dims, rawBytes(vals));
            if (orig.data_type() != TP::FLOAT)
                b.cast(orig.data_type());
            break;
        }
        default: break; // block formats: refused by checkWeight
        }
        b.finish(front);
    }
    prependNodes(g, front);
    if (wroteInt4)
        m.set_ir_version(std::max<std::int64_t>(m.ir_version(), 10));
    saveModel(m, outPath);
    return warnings;
}

void OnnxWriter::exportFloatOnnx(const std::string& sourceModelPath, const std::map<std::string, Tensor>& replacedWeights,
                                 const std::string& outPath)
{
    onnx::ModelProto m = loadModel(sourceModelPath);
    onnx::GraphProto& g = *m.mutable_graph();
    NameTable names(g);
    std::vector<onnx::NodeProto> front;
    for (const auto& [name, t] : replacedWeights) {
        const TP orig = takeWeight(g, name, sourceModelPath);
        if (dimsOf(orig) != t.shape())
            throw Error(sourceModelPath + ": weight '" + name + "' has shape " + shapeToString(dimsOf(orig)) +
                        ", its replacement " + shapeToString(t.shape()));
        if (t.dtype() == DType::String || t.dtype() == DType::Undefined)
            throw Error(sourceModelPath + ": weight '" + name + "': replacement of type " +
                        std::string(dtypeName(t.dtype())) + " is not supported");
        const int type = dtypeToOnnx(t.dtype());
        std::string raw(reinterpret_cast<const char*>(t.raw()), t.byteSize());
        if (type == orig.data_type()) {
            *g.add_initializer() = makeTensor(name, type, t.shape(), std::move(raw));
            continue;
        }
        WeightBuilder b(g, names, name);
        b.value("_replaced", type, t.shape(), std::move(raw));
        b.cast(orig.data_type());
        b.finish(front);
    }
    prependNodes(g, front);
    saveModel(m, outPath);
}

} // namespace leger
