#include "io/OnnxReader.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <google/protobuf/io/coded_stream.h>
#include <onnx/onnx_pb.h>

#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger {

namespace fs = std::filesystem;

namespace {

/// Parses a whole buffer; fails unless every byte was consumed (protobuf can stop silently
/// at its size limit on a field boundary).
template <class Message> void parseExactly(Message& msg, const std::string& bytes, const std::string& path, const char* what)
{
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw Error(path + ": file is larger than 2 GB; such models must keep their weights in external data files");
    google::protobuf::io::CodedInputStream stream(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                                  static_cast<int>(bytes.size()));
    stream.SetTotalBytesLimit(std::numeric_limits<int>::max());
    stream.SetRecursionLimit(200);
    if (!msg.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
        throw Error(path + ": not a valid " + what + " (corrupt or truncated protobuf)");
    if (static_cast<std::size_t>(stream.CurrentPosition()) != bytes.size())
        throw Error(path + ": " + what + " parsing stopped at byte " + std::to_string(stream.CurrentPosition()) + " of " +
                    std::to_string(bytes.size()));
}

struct Context {
    std::string path;     // the model file, for messages
    fs::path dir;         // where external data is looked up
    bool allowExternal = true;
    std::int64_t externalBytes = 0;
    std::unordered_map<std::string, std::string> externalFiles; // cache of external data files
};

template <class T, class Src> void copyConverted(Tensor& t, const Src& src, const std::string& where)
{
    if (static_cast<std::int64_t>(src.size()) != t.size())
        throw Error(where + ": holds " + std::to_string(src.size()) + " values, its shape " + shapeToString(t.shape()) +
                    " needs " + std::to_string(t.size()));
    T* out = t.data<T>();
    for (int i = 0; i < src.size(); ++i)
        out[i] = static_cast<T>(src.Get(i));
}

template <class T, class Src> void copyBits16(Tensor& t, const Src& src, const std::string& where)
{
    if (static_cast<std::int64_t>(src.size()) != t.size())
        throw Error(where + ": holds " + std::to_string(src.size()) + " values, its shape " + shapeToString(t.shape()) +
                    " needs " + std::to_string(t.size()));
    T* out = t.data<T>();
    for (int i = 0; i < src.size(); ++i)
        out[i].bits = static_cast<std::uint16_t>(src.Get(i));
}

const std::string& externalFile(Context& ctx, const std::string& location, const std::string& where)
{
    auto it = ctx.externalFiles.find(location);
    if (it != ctx.externalFiles.end())
        return it->second;
    if (!ctx.allowExternal)
        throw Error(where + ": external data '" + location + "' is not allowed here");
    const fs::path rel(location);
    // Hostile models must not read arbitrary files: stay inside the model's folder.
    bool escapes = rel.is_absolute() || rel.has_root_name();
    for (const auto& part : rel)
        escapes = escapes || part == "..";
    if (escapes)
        throw Error(where + ": external data location '" + location + "' leaves the model's folder");
    const fs::path full = ctx.dir / rel;
    std::string bytes;
    try {
        bytes = readFile(full.string());
    } catch (const Error& e) {
        throw Error(where + ": external data: " + e.what());
    }
    ctx.externalBytes += static_cast<std::int64_t>(bytes.size());
    return ctx.externalFiles.emplace(location, std::move(bytes)).first->second;
}

/// onnx::TensorProto data types of ONNX 1.16 (IR 10) that Debian's onnx 1.12 headers do not name.
constexpr int kOnnxUInt4 = 21;
constexpr int kOnnxInt4 = 22;

/// The bytes of a tensor stored in raw_data or external data, from *offsetOut on (nullptr when
/// it uses the typed fields); checks that there are exactly `bytes`.
const std::string* storedBytes(const onnx::TensorProto& p, Context* ctx, const std::string& where,
                               std::size_t bytes, std::int64_t* offsetOut)
{
    *offsetOut = 0;
    const auto sizeText = [&] {
        std::string dims;
        for (std::int64_t d : p.dims())
            dims += (dims.empty() ? "" : ", ") + std::to_string(d);
        return "shape [" + dims + "] (" + std::to_string(bytes) + " bytes)";
    };
    if (p.data_location() == onnx::TensorProto::EXTERNAL) {
        if (!ctx)
            throw Error(where + ": external data outside of a model file");
        std::string location;
        std::int64_t offset = 0, length = -1;
        for (const auto& kv : p.external_data()) {
            if (kv.key() == "location")
                location = kv.value();
            else if (kv.key() == "offset" || kv.key() == "length") {
                std::int64_t v = 0;
                try {
                    v = std::stoll(kv.value());
                } catch (...) {
                    throw Error(where + ": external data " + kv.key() + " '" + kv.value() + "' is not a number");
                }
                if (v < 0)
                    throw Error(where + ": external data " + kv.key() + " is negative");
                (kv.key() == "offset" ? offset : length) = v;
            }
        }
        if (location.empty())
            throw Error(where + ": external data without a location");
        const std::string& file = externalFile(*ctx, location, where);
        if (length < 0)
            length = static_cast<std::int64_t>(file.size()) - offset;
        if (length != static_cast<std::int64_t>(bytes))
            throw Error(where + ": external data length " + std::to_string(length) + " does not match " + sizeText());
        if (offset > static_cast<std::int64_t>(file.size()) || static_cast<std::int64_t>(file.size()) - offset < length)
            throw Error(where + ": external data file '" + location + "' is too short (truncated?)");
        *offsetOut = offset;
        return &file;
    }
    if (p.has_raw_data()) {
        if (p.raw_data().size() != bytes)
            throw Error(where + ": raw data has " + std::to_string(p.raw_data().size()) + " bytes, " + sizeText() +
                        " needed");
        return &p.raw_data();
    }
    return nullptr;
}

/// INT4 / UINT4 (packed two per byte, low nibble first) unpacked to one int8 / uint8 per
/// element: Leger has no 4-bit DType, and every op that reads them (DequantizeLinear, Cast,
/// shape ops) gives the same values from the wider type.
Tensor convertInt4Tensor(const onnx::TensorProto& p, Context* ctx, const std::string& where)
{
    const bool isSigned = p.data_type() == kOnnxInt4;
    Shape shape;
    for (std::int64_t d : p.dims()) {
        if (d < 0)
            throw Error(where + ": negative dimension " + std::to_string(d));
        shape.push_back(d);
    }
    Tensor t(isSigned ? DType::Int8 : DType::UInt8, shape);
    const std::size_t packed = static_cast<std::size_t>((t.size() + 1) / 2);
    std::int64_t offset = 0;
    const std::string* src = storedBytes(p, ctx, where, packed, &offset);
    if (!src)
        throw UnsupportedError(where + ": 4-bit tensors are only read from raw or external data");
    const auto* in = reinterpret_cast<const std::uint8_t*>(src->data() + offset);
    auto* out = reinterpret_cast<std::uint8_t*>(t.raw());
    for (std::int64_t i = 0; i < t.size(); ++i) {
        const unsigned nibble = (in[i >> 1] >> ((i & 1) * 4)) & 0xfu;
        // Sign-extend the 4-bit two's complement value for INT4.
        out[i] = static_cast<std::uint8_t>(isSigned && (nibble & 0x8u) ? nibble | 0xf0u : nibble);
    }
    return t;
}

Tensor convertTensor(const onnx::TensorProto& p, Context* ctx, const std::string& where)
{
    if (p.data_type() == kOnnxInt4 || p.data_type() == kOnnxUInt4)
        return convertInt4Tensor(p, ctx, where);
    const DType dtype = dtypeFromOnnx(p.data_type());
    if (dtype == DType::Undefined)
        throw UnsupportedError(where + ": element type " + std::to_string(p.data_type()) + " is not supported");
    if (p.has_segment())
        throw UnsupportedError(where + ": segmented tensors are not supported");
    Shape shape;
    for (std::int64_t d : p.dims()) {
        if (d < 0)
            throw Error(where + ": negative dimension " + std::to_string(d));
        shape.push_back(d);
    }
    Tensor t(dtype, shape);
    if (dtype == DType::String) {
        if (static_cast<std::int64_t>(p.string_data_size()) != t.size())
            throw Error(where + ": holds " + std::to_string(p.string_data_size()) + " strings, shape needs " +
                        std::to_string(t.size()));
        for (int i = 0; i < p.string_data_size(); ++i)
            t.strings()[static_cast<std::size_t>(i)] = p.string_data(i);
        return t;
    }
    const std::size_t bytes = t.byteSize();
    std::int64_t offset = 0;
    if (const std::string* src = storedBytes(p, ctx, where, bytes, &offset)) {
        if (bytes)
            std::memcpy(t.raw(), src->data() + offset, bytes);
        return t;
    }
    switch (dtype) {
    case DType::Float32: copyConverted<float>(t, p.float_data(), where); break;
    case DType::Float64: copyConverted<double>(t, p.double_data(), where); break;
    case DType::Int64: copyConverted<std::int64_t>(t, p.int64_data(), where); break;
    case DType::UInt32: copyConverted<std::uint32_t>(t, p.uint64_data(), where); break;
    case DType::UInt64: copyConverted<std::uint64_t>(t, p.uint64_data(), where); break;
    case DType::Int32: copyConverted<std::int32_t>(t, p.int32_data(), where); break;
    case DType::Int16: copyConverted<std::int16_t>(t, p.int32_data(), where); break;
    case DType::UInt16: copyConverted<std::uint16_t>(t, p.int32_data(), where); break;
    case DType::Int8: copyConverted<std::int8_t>(t, p.int32_data(), where); break;
    case DType::UInt8: copyConverted<std::uint8_t>(t, p.int32_data(), where); break;
    case DType::Bool: copyConverted<bool>(t, p.int32_data(), where); break;
    case DType::Float16: copyBits16<Half>(t, p.int32_data(), where); break;
    case DType::BFloat16: copyBits16<BFloat16>(t, p.int32_data(), where); break;
    default: throw UnsupportedError(where + ": cannot read element type " + std::string(dtypeName(dtype)));
    }
    return t;
}

ValueInfo convertValueInfo(const onnx::ValueInfoProto& v)
{
    ValueInfo info;
    info.name = v.name();
    // An absent or empty type (left to inference, as torch.onnx + spox write If bodies) is a
    // tensor of unknown type; only sequence, map and optional types are not tensors.
    info.isTensor = !v.has_type() || v.type().has_tensor_type() ||
                    v.type().value_case() == onnx::TypeProto::VALUE_NOT_SET;
    if (v.has_type() && v.type().has_tensor_type()) {
        const auto& tt = v.type().tensor_type();
        info.dtype = dtypeFromOnnx(tt.elem_type());
        if (tt.has_shape()) {
            info.hasShape = true;
            for (const auto& d : tt.shape().dim()) {
                info.dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
                info.dimParams.push_back(d.has_dim_param() ? d.dim_param() : std::string());
            }
        }
    }
    return info;
}

Graph convertGraph(const onnx::GraphProto& g, Context& ctx, const std::unordered_set<std::string>& outerScope, int depth);

Attribute convertAttribute(const onnx::AttributeProto& a, Context& ctx, const std::string& where,
                           const std::unordered_set<std::string>& scope, int depth)
{
    using A = onnx::AttributeProto;
    Attribute out;
    const std::string at = where + " attribute '" + a.name() + "'";
    if (!a.ref_attr_name().empty())
        throw UnsupportedError(at + ": attribute references are only valid inside functions");
    switch (a.type()) {
    case A::FLOAT: out.kind = Attribute::Kind::Float; out.f = a.f(); break;
    case A::INT: out.kind = Attribute::Kind::Int; out.i = a.i(); break;
    case A::STRING: out.kind = Attribute::Kind::String; out.s = a.s(); break;
    case A::TENSOR:
        out.kind = Attribute::Kind::Tensor;
        out.t = std::make_shared<Tensor>(convertTensor(a.t(), &ctx, at));
        break;
    case A::GRAPH:
        out.kind = Attribute::Kind::Graph;
        out.g = std::make_shared<Graph>(convertGraph(a.g(), ctx, scope, depth + 1));
        break;
    case A::FLOATS: out.kind = Attribute::Kind::Floats; out.floats.assign(a.floats().begin(), a.floats().end()); break;
    case A::INTS: out.kind = Attribute::Kind::Ints; out.ints.assign(a.ints().begin(), a.ints().end()); break;
    case A::STRINGS: out.kind = Attribute::Kind::Strings; out.strings.assign(a.strings().begin(), a.strings().end()); break;
    case A::TENSORS:
        out.kind = Attribute::Kind::Tensors;
        for (const auto& t : a.tensors())
            out.tensors.push_back(convertTensor(t, &ctx, at));
        break;
    case A::GRAPHS:
        out.kind = Attribute::Kind::Graphs;
        for (const auto& g : a.graphs())
            out.graphs.push_back(std::make_shared<Graph>(convertGraph(g, ctx, scope, depth + 1)));
        break;
    case A::SPARSE_TENSOR:
    case A::SPARSE_TENSORS: throw UnsupportedError(at + ": sparse tensor attributes are not supported");
    case A::TYPE_PROTO:
    case A::TYPE_PROTOS: throw UnsupportedError(at + ": type attributes are not supported");
    default: throw Error(at + ": unknown attribute type " + std::to_string(a.type()));
    }
    return out;
}

/// The value a `Constant` node defines, or nothing for a form Leger does not fold.
bool constantValue(const Node& n, Tensor& out)
{
    if (const Tensor* t = n.attrTensor("value")) {
        out = *t;
        return true;
    }
    if (const Attribute* a = n.find("value_float")) {
        out = Tensor::scalar<float>(a->f);
        return true;
    }
    if (const Attribute* a = n.find("value_floats")) {
        out = Tensor::fromVector<float>({static_cast<std::int64_t>(a->floats.size())}, a->floats);
        return true;
    }
    if (const Attribute* a = n.find("value_int")) {
        out = Tensor::scalar<std::int64_t>(a->i);
        return true;
    }
    if (const Attribute* a = n.find("value_ints")) {
        out = Tensor::fromVector<std::int64_t>({static_cast<std::int64_t>(a->ints.size())}, a->ints);
        return true;
    }
    if (const Attribute* a = n.find("value_string")) {
        out = Tensor(DType::String, {});
        out.strings()[0] = a->s;
        return true;
    }
    if (const Attribute* a = n.find("value_strings")) {
        out = Tensor(DType::String, {static_cast<std::int64_t>(a->strings.size())});
        out.strings() = a->strings;
        return true;
    }
    return false;
}

/// Orders nodes so that each comes after the producers of its inputs; stable for sorted graphs.
std::vector<Node> topologicalSort(std::vector<Node> nodes, const std::unordered_set<std::string>& available,
                                  const std::string& where)
{
    std::unordered_map<std::string, std::size_t> producer;
    for (std::size_t i = 0; i < nodes.size(); ++i)
        for (const auto& o : nodes[i].outputs)
            if (!o.empty() && !producer.emplace(o, i).second)
                throw Error(where + ": value '" + o + "' is produced by more than one node");
    std::vector<int> state(nodes.size(), 0); // 0 new, 1 visiting, 2 done
    std::vector<std::size_t> order;
    order.reserve(nodes.size());
    // Iterative DFS so that a deep hostile graph cannot overflow the stack.
    for (std::size_t root = 0; root < nodes.size(); ++root) {
        if (state[root])
            continue;
        std::vector<std::pair<std::size_t, std::size_t>> stack{{root, 0}};
        state[root] = 1;
        while (!stack.empty()) {
            auto& [n, next] = stack.back();
            if (next < nodes[n].inputs.size()) {
                const std::string& in = nodes[n].inputs[next++];
                if (in.empty() || available.count(in))
                    continue;
                auto it = producer.find(in);
                if (it == producer.end())
                    throw Error(where + ": " + nodes[n].describe() + " reads '" + in + "', which nothing defines");
                if (state[it->second] == 1)
                    throw Error(where + ": the graph has a cycle through '" + in + "'");
                if (state[it->second] == 0) {
                    state[it->second] = 1;
                    stack.emplace_back(it->second, 0);
                }
                continue;
            }
            state[n] = 2;
            order.push_back(n);
            stack.pop_back();
        }
    }
    std::vector<Node> sorted;
    sorted.reserve(nodes.size());
    for (std::size_t i : order)
        sorted.push_back(std::move(nodes[i]));
    return sorted;
}

Graph convertGraph(const onnx::GraphProto& g, Context& ctx, const std::unordered_set<std::string>& outerScope, int depth)
{
    if (depth > 64)
        throw Error(ctx.path + ": subgraphs are nested more than 64 levels deep");
    const std::string where = ctx.path + (depth ? ": subgraph '" + g.name() + "'" : std::string());
    Graph out;
    out.name = g.name();
    if (g.sparse_initializer_size())
        throw UnsupportedError(where + ": sparse initializers are not supported");
    for (const auto& init : g.initializer()) {
        if (init.name().empty())
            throw Error(where + ": an initializer has no name");
        out.initializers.insert_or_assign(init.name(), convertTensor(init, &ctx, where + ": initializer '" + init.name() + "'"));
    }
    std::unordered_set<std::string> scope = outerScope;
    for (const auto& in : g.input()) {
        scope.insert(in.name());
        if (!out.initializers.count(in.name())) // IR < 4 lists initializers as inputs too
            out.inputs.push_back(convertValueInfo(in));
    }
    for (const auto& [name, t] : out.initializers)
        scope.insert(name);
    for (const auto& o : g.output())
        out.outputs.push_back(convertValueInfo(o));

    // Subgraphs may read any value of this graph, so give them the full set of names.
    std::unordered_set<std::string> visible = scope;
    for (const auto& n : g.node())
        for (const auto& o : n.output())
            visible.insert(o);

    std::vector<Node> nodes;
    nodes.reserve(static_cast<std::size_t>(g.node_size()));
    for (int i = 0; i < g.node_size(); ++i) {
        const auto& np = g.node(i);
        Node n;
        n.name = np.name();
        n.opType = np.op_type();
        n.domain = np.domain() == "ai.onnx" ? std::string() : np.domain();
        n.inputs.assign(np.input().begin(), np.input().end());
        n.outputs.assign(np.output().begin(), np.output().end());
        const std::string nodeWhere = where + ": " + n.describe();
        for (const auto& a : np.attribute()) {
            if (!n.attributes.emplace(a.name(), convertAttribute(a, ctx, nodeWhere, visible, depth)).second)
                throw Error(nodeWhere + ": attribute '" + a.name() + "' appears twice");
        }
        if (n.opType.empty())
            throw Error(where + ": node " + std::to_string(i) + " has no op type");
        // Several exporters store weights as Constant nodes; fold them so they are weights too.
        Tensor value;
        if (n.opType == "Constant" && n.domain.empty() && n.outputs.size() == 1 && constantValue(n, value)) {
            out.initializers.insert_or_assign(n.outputs[0], std::move(value));
            scope.insert(n.outputs[0]);
            continue;
        }
        nodes.push_back(std::move(n));
    }
    out.nodes = topologicalSort(std::move(nodes), scope, where);
    std::unordered_set<std::string> defined = scope;
    for (const auto& n : out.nodes)
        defined.insert(n.outputs.begin(), n.outputs.end());
    for (const auto& o : out.outputs)
        if (!defined.count(o.name))
            throw Error(where + ": graph output '" + o.name + "' is never computed");
    return out;
}

} // namespace

namespace {

Model convertModel(const std::string& bytes, const std::string& path, bool allowExternal,
                   std::map<std::string, Tensor, std::less<>> extra)
{
    if (bytes.empty())
        throw Error(path + ": file is empty");
    onnx::ModelProto proto;
    parseExactly(proto, bytes, path, "ONNX model");
    if (!proto.has_graph())
        throw Error(path + ": the model has no graph (is this an ONNX file?)");
    if (proto.functions_size())
        throw UnsupportedError(path + ": model-local functions are not supported");

    Model model;
    model.path = path;
    model.producer = proto.producer_name() + (proto.producer_version().empty() ? "" : " " + proto.producer_version());
    for (const auto& op : proto.opset_import()) {
        const std::string domain = op.domain() == "ai.onnx" ? std::string() : op.domain();
        model.opsets[domain] = static_cast<int>(op.version());
    }
    if (proto.ir_version() < 3 && model.opsets.empty())
        model.opsets[""] = 1;

    Context ctx;
    ctx.path = path;
    ctx.dir = fs::path(path).parent_path();
    ctx.allowExternal = allowExternal;
    std::unordered_set<std::string> outer;
    for (const auto& [name, t] : extra)
        outer.insert(name);
    model.graph = convertGraph(proto.graph(), ctx, outer, 0);
    if (!extra.empty()) {
        // Inputs that name an added initializer are initializers listed as inputs (IR < 4).
        std::erase_if(model.graph.inputs, [&](const ValueInfo& v) { return extra.count(v.name) != 0; });
        for (auto& [name, t] : extra)
            model.graph.initializers.insert_or_assign(name, std::move(t));
    }
    model.fileBytes = static_cast<std::int64_t>(bytes.size()) + ctx.externalBytes;
    return model;
}

} // namespace

Model OnnxReader::readModel(const std::string& path) { return convertModel(readFile(path), path, true, {}); }

Model OnnxReader::readModelFromMemory(const std::string& bytes, const std::string& path,
                                      std::map<std::string, Tensor, std::less<>> initializers)
{
    return convertModel(bytes, path, false, std::move(initializers));
}

Tensor OnnxReader::readTensor(const std::string& path, std::string* name)
{
    const std::string bytes = readFile(path);
    onnx::TensorProto proto;
    parseExactly(proto, bytes, path, "ONNX tensor");
    Context ctx;
    ctx.path = path;
    ctx.dir = fs::path(path).parent_path();
    if (name)
        *name = proto.name();
    return convertTensor(proto, &ctx, path);
}

} // namespace leger
