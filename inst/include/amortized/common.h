// Shared helpers of the amortized C++ core: shape checks, seeded generators,
// thread control. R-free.
#pragma once

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace amortized {

using torch::Tensor;

// Throws (TORCH_CHECK) unless `t` is defined, has `expected.size()` dims and
// every entry of `expected` that is not -1 equals the tensor's size there.
// The message names the tensor: "theta must have shape [*, 10], got [64, 9]".
void check_shape(const Tensor& t, const std::string& name,
                 std::initializer_list<int64_t> expected);

// Human-readable shape, e.g. "[64, 9]"; "*" stands for a free dimension.
std::string shape_string(const std::vector<int64_t>& shape);

// A CPU generator seeded with `seed`; every random draw of the core goes
// through one of these, so the same seed gives the same result on CPU.
at::Generator make_generator(uint64_t seed);

// Number of trainable scalars of a module (all parameters, recursively).
int64_t count_parameters(const torch::nn::Module& module);

// Sets the number of intra-op threads LibTorch uses (n >= 1).
void set_threads(int n);
// 1 or max_threads, whichever runs a typical inference workload (draws
// from the default posterior flow for 4,000 rows of context) faster on this
// machine now; several threads only where they beat one by at least 20%, so
// that the choice never loses to one thread by much. Takes ~0.2 s; restores
// the thread count it found. (Defined with the coupling flow.)
int fastest_threads(int max_threads);
int get_threads();

// Re-draws a linear layer's weight and bias from U(-1/sqrt(fan_in), ...)
// (PyTorch's default) with an explicit generator.
void init_linear(Tensor& weight, Tensor& bias, at::Generator& gen);

}  // namespace amortized
