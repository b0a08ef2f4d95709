#pragma once
// LEGER_MULTIVERSION marks a hot-loop function to be compiled for baseline x86-64, AVX2+FMA
// (x86-64-v3) and AVX-512 (x86-64-v4); the loader picks the best clone for the CPU. The
// default build cannot assume more than SSE2, and GCC's -O2 cost model leaves most loops
// scalar, hence O3 on these functions. Use ISA levels, not CPU names: an "arch=haswell" clone
// is only picked on Intel CPUs of that model, never on AMD. Short copy/fill loops stay inline
// instead of becoming memcpy/memset calls, which cost more than they move on short rows.
//
// Clones cannot be inlined into their callers: put the attribute on a function doing a
// whole plane or tensor of work, and let it inline [[gnu::always_inline]] helpers.

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LEGER_MULTIVERSION                                                                                             \
    __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4"),                                     \
                   optimize("O3", "no-tree-loop-distribute-patterns")))
#else
#define LEGER_MULTIVERSION
#endif
