#include "amortized/diagnostics/mmd.h"

#include <algorithm>
#include <cmath>

namespace amortized {

MmdKernel::Kind MmdKernel::parse(const std::string& name) {
  if (name == "gaussian") return Kind::Gaussian;
  if (name == "imq") return Kind::InverseMultiquadric;
  TORCH_CHECK(false, "MMD kernel must be \"gaussian\" or \"imq\", got \"", name, "\"");
}

namespace {

void check_kernel(const MmdKernel& kernel) {
  TORCH_CHECK(!kernel.bandwidths.empty(), "MMD kernel: at least one bandwidth");
  for (double h : kernel.bandwidths) {
    TORCH_CHECK(std::isfinite(h) && h > 0, "MMD kernel: bandwidths must be finite and positive, got ", h);
  }
}

void check_pair(const Tensor& x, const Tensor& y) {
  TORCH_CHECK(x.dim() == 2 && y.dim() == 2, "MMD: samples must be matrices (rows are points)");
  TORCH_CHECK(x.size(1) == y.size(1), "MMD: the samples have ", x.size(1), " and ", y.size(1), " columns");
  TORCH_CHECK(x.scalar_type() == y.scalar_type(), "MMD: the samples differ in dtype");
}

// Squared distances of all row pairs: [n, m] (>= 0).
Tensor squared_distances(const Tensor& x, const Tensor& y, bool in_place) {
  Tensor xn = x.pow(2).sum(1, true);  // [n, 1]
  Tensor yn = y.pow(2).sum(1).unsqueeze(0);  // [1, m]
  Tensor d2 = torch::addmm(xn, x, y.t(), 1.0, -2.0);
  if (in_place) return d2.add_(yn).clamp_min_(0);
  return (d2 + yn).clamp_min(0);
}

// k over the squared distances (consumes d2 when in_place).
Tensor apply_kernel(Tensor d2, const MmdKernel& kernel, bool in_place) {
  const auto& hs = kernel.bandwidths;
  const double w = 1.0 / static_cast<double>(hs.size());
  auto one = [&](const Tensor& d, double h, bool consume) {
    if (kernel.kind == MmdKernel::Kind::Gaussian) {
      const double c = -0.5 / (h * h);
      return consume ? d.mul_(c).exp_() : (d * c).exp();
    }
    const double c = 1.0 / (h * h);
    return consume ? d.mul_(c).add_(1).rsqrt_() : (d * c + 1).rsqrt();
  };
  if (hs.size() == 1) return one(d2, hs[0], in_place);
  Tensor out;
  for (size_t i = 0; i < hs.size(); ++i) {
    const bool last = i + 1 == hs.size();
    Tensor k = one(d2, hs[i], in_place && last);
    out = out.defined() ? (in_place ? out.add_(k) : out + k) : k;
  }
  return in_place ? out.mul_(w) : out * w;
}

bool needs_grad(const Tensor& x, const Tensor& y) {
  return torch::GradMode::is_enabled() && (x.requires_grad() || y.requires_grad());
}

// Rows per block so that a block of kernel values holds about 4M entries.
int64_t block_rows(int64_t m) { return std::max<int64_t>(1, (int64_t{1} << 22) / std::max<int64_t>(m, 1)); }

}  // namespace

Tensor kernel_matrix(const Tensor& x, const Tensor& y, const MmdKernel& kernel) {
  check_pair(x, y);
  check_kernel(kernel);
  const bool in_place = !needs_grad(x, y);
  return apply_kernel(squared_distances(x, y, in_place), kernel, in_place);
}

Tensor kernel_sum(const Tensor& x, const Tensor& y, const MmdKernel& kernel, bool skip_diagonal) {
  check_pair(x, y);
  check_kernel(kernel);
  const int64_t n = x.size(0), m = y.size(0);
  TORCH_CHECK(!skip_diagonal || n == m, "kernel_sum: skipping the diagonal needs one sample");
  const bool in_place = !needs_grad(x, y);
  const int64_t rows = block_rows(m);
  Tensor total = torch::zeros({}, x.options());
  for (int64_t start = 0; start < n; start += rows) {
    const int64_t len = std::min(rows, n - start);
    Tensor k = apply_kernel(squared_distances(x.narrow(0, start, len), y, in_place), kernel, in_place);
    Tensor s = k.sum();
    // k(x_i, x_i) as computed (1 up to rounding), removed exactly
    if (skip_diagonal) s = s - k.narrow(1, start, len).diagonal().sum();
    total = total + s;
  }
  return total;
}

Tensor mmd2(const Tensor& x, const Tensor& y, const MmdKernel& kernel) {
  check_pair(x, y);
  const double n = static_cast<double>(x.size(0)), m = static_cast<double>(y.size(0));
  TORCH_CHECK(n >= 2 && m >= 2, "MMD: each sample needs at least 2 rows, got ", x.size(0), " and ", y.size(0));
  return kernel_sum(x, x, kernel, true) / (n * (n - 1)) + kernel_sum(y, y, kernel, true) / (m * (m - 1)) -
         kernel_sum(x, y, kernel, false) * (2.0 / (n * m));
}

double median_distance(const Tensor& x, const Tensor& y, int64_t max_rows) {
  check_pair(x, y);
  torch::NoGradGuard no_grad;
  Tensor z = torch::cat({x, y}, 0).to(torch::kDouble);
  const int64_t n = z.size(0);
  if (n > max_rows) z = z.index_select(0, torch::linspace(0, n - 1, max_rows, torch::kDouble).round().to(torch::kLong));
  const int64_t k = z.size(0);
  if (k < 2) return 1.0;
  Tensor d2 = squared_distances(z, z, true);
  Tensor upper = d2.masked_select(torch::ones({k, k}, torch::kBool).triu(1));
  const double med = std::sqrt(upper.median().item<double>());
  if (med > 0 && std::isfinite(med)) return med;
  const double rms = std::sqrt(upper.mean().item<double>());
  return rms > 0 && std::isfinite(rms) ? rms : 1.0;
}

namespace {

// Mean of k over distinct pairs within x (1 for a single row: k(x, x)).
double within_mean(const Tensor& x, const MmdKernel& kernel) {
  const double m = static_cast<double>(x.size(0));
  if (x.size(0) < 2) return 1.0;
  return kernel_sum(x, x, kernel, true).item<double>() / (m * (m - 1));
}

}  // namespace

MmdReference mmd_reference(const Tensor& reference, const MmdKernel& kernel) {
  TORCH_CHECK(reference.dim() == 2 && reference.size(0) >= 2, "MMD: at least 2 reference rows");
  torch::NoGradGuard no_grad;
  return {reference, within_mean(reference, kernel)};
}

double mmd2_against(const Tensor& x, const Tensor& reference, const MmdKernel& kernel) {
  return mmd2_against(x, mmd_reference(reference, kernel), kernel);
}

double mmd2_against(const Tensor& x, const MmdReference& ref, const MmdKernel& kernel) {
  const Tensor& reference = ref.sample;
  check_pair(x, reference);
  torch::NoGradGuard no_grad;
  const double m = static_cast<double>(x.size(0)), r = static_cast<double>(reference.size(0));
  TORCH_CHECK(m >= 1 && r >= 2, "MMD: at least 1 observed and 2 reference rows");
  return within_mean(x, kernel) + ref.within - 2.0 * kernel_sum(x, reference, kernel, false).item<double>() / (m * r);
}

Tensor mmd2_null(const Tensor& pool, const Tensor& reference, int64_t m, int64_t n_null, const MmdKernel& kernel,
                 at::Generator& gen) {
  return mmd2_null(pool, mmd_reference(reference, kernel), m, n_null, kernel, gen);
}

Tensor mmd2_null(const Tensor& pool, const MmdReference& ref, int64_t m, int64_t n_null, const MmdKernel& kernel,
                 at::Generator& gen) {
  const Tensor& reference = ref.sample;
  check_pair(pool, reference);
  torch::NoGradGuard no_grad;
  const int64_t n_pool = pool.size(0);
  TORCH_CHECK(m >= 1 && m <= n_pool, "MMD null distribution: ", m, " rows per replicate from a pool of ", n_pool);
  TORCH_CHECK(n_null >= 1, "MMD null distribution: at least 1 replicate");
  const double r = static_cast<double>(reference.size(0));
  const double yy = ref.within;
  // each pool row's mean kernel value against the reference, blockwise
  Tensor cross = torch::empty({n_pool}, pool.options());
  const int64_t rows = block_rows(reference.size(0));
  for (int64_t start = 0; start < n_pool; start += rows) {
    const int64_t len = std::min(rows, n_pool - start);
    cross.narrow(0, start, len).copy_(kernel_matrix(pool.narrow(0, start, len), reference, kernel).sum(1) / r);
  }
  cross = cross.to(torch::kDouble);
  // the pool's own kernel matrix when it is small enough to keep
  const bool keep = m > 1 && n_pool <= 4096;
  Tensor kpool = keep ? kernel_matrix(pool, pool, kernel).to(torch::kDouble) : Tensor();
  Tensor out = torch::empty({n_null}, torch::kDouble);
  auto acc = out.accessor<double, 1>();
  for (int64_t b = 0; b < n_null; ++b) {
    Tensor idx = torch::randperm(n_pool, gen, torch::kLong).narrow(0, 0, m);
    double xx = 1.0;
    if (m > 1) {
      const double mm = static_cast<double>(m);
      if (keep) {
        Tensor sub = kpool.index_select(0, idx).index_select(1, idx);
        xx = (sub.sum().item<double>() - sub.diagonal().sum().item<double>()) / (mm * (mm - 1));
      } else {
        xx = within_mean(pool.index_select(0, idx), kernel);
      }
    }
    acc[b] = xx + yy - 2.0 * cross.index_select(0, idx).mean().item<double>();
  }
  return out;
}

}  // namespace amortized
