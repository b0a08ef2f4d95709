#pragma once
// Run-time ISA dispatch of the compression kernels. Quantizer.cpp and Pruner.cpp include their
// kernels (*Kernels.inc) three times, in namespaces isa_base (x86-64 baseline), isa_avx2 and
// isa_avx512, each in its own `#pragma GCC target` region; LEGER_COMPRESS_DISPATCH(name)
// defines `name(args...)` calling the one of the level ops::convk::isa() selects: the best the
// CPU has, lowered by LEGER_ISA=baseline|avx2 or convk::setIsa (so tests run every level).

#include "runtime/ops/ConvKernels.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LEGER_COMPRESS_X86 1
#define LEGER_COMPRESS_DISPATCH(name)                                                                                  \
    template <class... A> auto name(A... a)                                                                            \
    {                                                                                                                  \
        switch (::leger::ops::convk::isa()) {                                                                          \
        case ::leger::ops::convk::Isa::Avx512: return isa_avx512::name(a...);                                          \
        case ::leger::ops::convk::Isa::Avx2: return isa_avx2::name(a...);                                              \
        case ::leger::ops::convk::Isa::Baseline: break;                                                                \
        }                                                                                                              \
        return isa_base::name(a...);                                                                                   \
    }
#else
#define LEGER_COMPRESS_DISPATCH(name)                                                                                  \
    template <class... A> auto name(A... a) { return isa_base::name(a...); }
#endif
