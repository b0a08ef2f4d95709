#pragma once

#include <stdexcept>
#include <string>

namespace leger {

/// An expected failure (bad input file, unsupported feature); the message is for the user.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The input is valid but uses something Leger does not implement (op, opset, attribute, type).
class UnsupportedError : public Error {
public:
    using Error::Error;
};

/// The operation was cancelled through a CancelToken.
class CancelledError : public Error {
public:
    CancelledError() : Error("cancelled") {}
};

} // namespace leger
