#include "amortized/transforms/bounded.h"

#include <cmath>
#include <limits>
#include <sstream>

namespace amortized {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// Per-variable masks of the kind of bound, and bounds that are finite
// everywhere (safe values where a branch is not selected), so that no
// branch of the elementwise map is NaN, in value or gradient.
struct Branches {
  Tensor has_lo, has_hi, both;
  Tensor a1, b1;  // (a, b) branch: the bounds, or (0, 1)
  Tensor a2, b3;  // (a, inf) branch: a, or 0; (-inf, b) branch: b, or 0
  Branches(const Tensor& a, const Tensor& b) {
    has_lo = torch::isfinite(a);
    has_hi = torch::isfinite(b);
    both = has_lo.logical_and(has_hi);
    a1 = torch::where(both, a, torch::zeros_like(a));
    b1 = torch::where(both, b, torch::ones_like(b));
    a2 = torch::where(has_lo, a, torch::zeros_like(a));
    b3 = torch::where(has_hi, b, torch::zeros_like(b));
  }
};
}  // namespace

BoundedImpl::BoundedImpl(const std::vector<double>& lower, const std::vector<double>& upper)
    : TransformImpl(static_cast<int64_t>(lower.size())) {
  TORCH_CHECK(!lower.empty() && lower.size() == upper.size(), "lower and upper must have one bound per variable (",
              lower.size(), " and ", upper.size(), " given)");
  std::vector<double> lo(lower.size()), hi(lower.size());
  for (size_t i = 0; i < lower.size(); ++i) {
    TORCH_CHECK(!std::isnan(lower[i]) && !std::isnan(upper[i]) && lower[i] < upper[i],
                "bounds of variable ", i + 1, " must satisfy lower < upper, got [", lower[i], ", ", upper[i], "]");
    TORCH_CHECK(lower[i] < kInf && upper[i] > -kInf, "bounds of variable ", i + 1, " leave no room");
    // the nearest float32 values strictly inside
    lo[i] = std::isfinite(lower[i]) ? std::nextafter(static_cast<float>(lower[i]), std::numeric_limits<float>::infinity())
                                    : -std::numeric_limits<float>::max();
    hi[i] = std::isfinite(upper[i]) ? std::nextafter(static_cast<float>(upper[i]), -std::numeric_limits<float>::infinity())
                                    : std::numeric_limits<float>::max();
    if (std::isfinite(lower[i]) && lo[i] <= lower[i]) lo[i] = std::nextafter(lower[i], kInf);
    if (std::isfinite(upper[i]) && hi[i] >= upper[i]) hi[i] = std::nextafter(upper[i], -kInf);
  }
  auto dbl = torch::TensorOptions().dtype(torch::kDouble);
  lower_ = register_buffer("lower", torch::tensor(lower, dbl));
  upper_ = register_buffer("upper", torch::tensor(upper, dbl));
  inside_lo_ = register_buffer("inside_lower", torch::tensor(lo, dbl));
  inside_hi_ = register_buffer("inside_upper", torch::tensor(hi, dbl));
}

Tensor BoundedImpl::inside(const Tensor& x) const {
  Tensor xd = x.to(torch::kDouble);
  return ((xd > lower_.to(xd.device())) & (xd < upper_.to(xd.device()))).all(1);
}

bool BoundedImpl::any_bounded() const { return torch::isfinite(torch::cat({lower_, upper_})).any().item<bool>(); }

std::pair<Tensor, Tensor> BoundedImpl::forward(const Tensor& x, const Tensor& context) {
  check_input(x, context, 0, "theta");
  Tensor xd = x.to(torch::kDouble);
  const Branches br(lower_.to(xd.device()), upper_.to(xd.device()));
  const Tensor &has_lo = br.has_lo, &has_hi = br.has_hi, &both = br.both;
  const Tensor &a1 = br.a1, &b1 = br.b1, &a2 = br.a2, &b3 = br.b3;
  Tensor zero = torch::zeros_like(xd);
  // each branch sees safe values where it is not selected
  Tensor x1 = torch::where(both, xd, 0.5 * (a1 + b1));
  Tensor x2 = torch::where(has_lo, xd, a2 + 1), x3 = torch::where(has_hi, xd, b3 - 1);
  // (a, b): z = log u - log(1 - u), log|dz/dx| = -log(b - a) - log u - log(1 - u)
  Tensor u = (x1 - a1) / (b1 - a1);
  Tensor z_both = torch::log(u) - torch::log1p(-u);
  Tensor ld_both = -torch::log(b1 - a1) - torch::log(u) - torch::log1p(-u);
  // (a, inf): z = log(x - a), log|dz/dx| = -z; (-inf, b): z = log(b - x), -z
  Tensor z_lo = torch::log(x2 - a2), z_hi = torch::log(b3 - x3);
  Tensor z = torch::where(both, z_both, torch::where(has_lo, z_lo, torch::where(has_hi, z_hi, xd)));
  Tensor ld = torch::where(both, ld_both, torch::where(has_lo, -z_lo, torch::where(has_hi, -z_hi, zero)));
  return {z.to(x.scalar_type()), ld.sum(1).to(x.scalar_type())};
}

std::pair<Tensor, Tensor> BoundedImpl::inverse(const Tensor& z, const Tensor& context) {
  check_input(z, context, 0, "z");
  Tensor zd = z.to(torch::kDouble);
  const Branches br(lower_.to(zd.device()), upper_.to(zd.device()));
  const Tensor &has_lo = br.has_lo, &has_hi = br.has_hi, &both = br.both;
  const Tensor &a1 = br.a1, &b1 = br.b1, &a2 = br.a2, &b3 = br.b3;
  Tensor zero = torch::zeros_like(zd);
  Tensor x_both = a1 + (b1 - a1) * torch::sigmoid(zd);
  Tensor ld_both = torch::log(b1 - a1) + torch::log_sigmoid(zd) + torch::log_sigmoid(-zd);
  Tensor x = torch::where(both, x_both,
                          torch::where(has_lo, a2 + torch::exp(zd), torch::where(has_hi, b3 - torch::exp(zd), zd)));
  Tensor ld = torch::where(both, ld_both, torch::where(has_lo.logical_or(has_hi), zd, zero));
  x = torch::max(torch::min(x, inside_hi_.to(zd.device())), inside_lo_.to(zd.device()));
  return {x.to(z.scalar_type()), ld.sum(1).to(z.scalar_type())};
}

std::string BoundedImpl::describe() const {
  std::ostringstream s;
  s << "bounded (" << dim() << " variables to the real line: logit / log)";
  return s.str();
}

}  // namespace amortized
