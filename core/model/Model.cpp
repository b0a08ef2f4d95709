#include "model/Model.h"

namespace leger {

int Model::onnxOpset() const
{
    auto it = opsets.find("");
    return it == opsets.end() ? 1 : it->second;
}

} // namespace leger
