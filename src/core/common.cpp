#include "amortized/common.h"

#include <dlfcn.h>

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

namespace amortized {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out << ", ";
    if (shape[i] < 0) out << "*"; else out << shape[i];
  }
  out << "]";
  return out.str();
}

void check_shape(const Tensor& t, const std::string& name,
                 std::initializer_list<int64_t> expected) {
  std::vector<int64_t> want(expected);
  TORCH_CHECK(t.defined(), name, " must be a tensor of shape ", shape_string(want),
              ", got an undefined tensor");
  bool ok = t.dim() == static_cast<int64_t>(want.size());
  for (size_t i = 0; ok && i < want.size(); ++i) {
    if (want[i] >= 0 && t.size(static_cast<int64_t>(i)) != want[i]) ok = false;
  }
  TORCH_CHECK(ok, name, " must have shape ", shape_string(want), ", got ",
              shape_string(t.sizes().vec()));
}

at::Generator make_generator(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters(/*recurse=*/true)) n += p.numel();
  return n;
}

void set_threads(int n) {
  TORCH_CHECK(n >= 1, "the number of threads must be at least 1, got ", n);
  at::set_num_threads(n);
  // An OpenBLAS that LibTorch calls for matrix products keeps a thread pool
  // of its own; left alone, its threads spin next to ours. Pin it too where
  // it is loaded (found at run time, so any BLAS works).
  using SetThreads = void (*)(int);
  static const auto openblas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (openblas) openblas(n);
}

int get_threads() { return at::get_num_threads(); }

void init_linear(Tensor& weight, Tensor& bias, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(weight.size(1), 1)));
  weight.uniform_(-bound, bound, gen);
  if (bias.defined()) bias.uniform_(-bound, bound, gen);
}

}  // namespace amortized
