#include "amortized/summary/summary_net.h"

#include <cmath>
#include <limits>

namespace amortized {

SummaryNetImpl::SummaryNetImpl(int64_t input_dim, int64_t output_dim)
    : input_dim_(input_dim), output_dim_(output_dim) {
  TORCH_CHECK(input_dim >= 1, "a summary network needs input_dim >= 1, got ", input_dim);
  TORCH_CHECK(output_dim >= 1, "a summary network needs output_dim >= 1, got ", output_dim);
}

void SummaryNetImpl::reset_parameters(at::Generator& gen) { init_parameters(*this, gen); }

void SummaryNetImpl::check_input(const Tensor& x, const Tensor& lengths) const {
  check_shape(x, "summary network input x", {-1, -1, input_dim_});
  const int64_t b = x.size(0), n = x.size(1);
  TORCH_CHECK(n >= 1, "summary network input x must hold at least one point per data set");
  if (!lengths.defined()) return;
  check_shape(lengths, "lengths", {b});
  TORCH_CHECK(b == 0 || (lengths.min().item<int64_t>() >= 1 && lengths.max().item<int64_t>() <= n),
              "lengths must be between 1 and ", n, " (the points of x per data set)");
}

Tensor SummaryNetImpl::valid_mask(const Tensor& x, const Tensor& lengths) const {
  check_input(x, lengths);
  const int64_t b = x.size(0), n = x.size(1);
  if (!lengths.defined()) return torch::ones({b, n}, x.options());
  Tensor steps = torch::arange(n, lengths.options()).unsqueeze(0);
  return (steps < lengths.unsqueeze(1)).to(x.scalar_type());
}

Tensor masked_mean(const Tensor& h, const Tensor& mask) {
  Tensor m = mask.unsqueeze(2);
  return (h * m).sum(1) / m.sum(1).clamp_min(1.0);
}

Tensor masked_sd(const Tensor& h, const Tensor& mask) {
  Tensor m = mask.unsqueeze(2);
  Tensor mean = masked_mean(h, mask).unsqueeze(1);
  Tensor var = ((h - mean).square() * m).sum(1) / m.sum(1).clamp_min(1.0);
  return torch::sqrt(var + 1e-6);
}

Tensor masked_max(const Tensor& h, const Tensor& mask) {
  Tensor m = mask.unsqueeze(2).to(torch::kBool);
  return h.masked_fill(m.logical_not(), -std::numeric_limits<float>::infinity()).amax(1);
}

int64_t moment_count(int64_t d, int64_t lags) { return 2 * (d + (d <= 8 ? d * (d + 1) / 2 : d)) + lags * d; }

Tensor pooled_moments(const Tensor& x, const Tensor& mask, int64_t lags) {
  const int64_t d = x.size(2), steps = x.size(1);
  constexpr double eps = 1e-6;
  Tensor xm = x * mask.unsqueeze(2);  // padding out
  Tensor n = mask.sum(1, true).clamp_min(1.0);
  Tensor means = xm.sum(1) / n, squares = xm.square().sum(1) / n;  // [batch, d]
  Tensor scale = torch::sqrt(squares + eps);
  Tensor second, free;  // the second moments, raw and free of the scale
  if (d <= 8) {
    Tensor idx = torch::triu_indices(d, d, 0, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    Tensor j = idx[0], k = idx[1];
    second = (xm.index_select(2, j) * xm.index_select(2, k)).sum(1) / n;
    // squares on a log scale, products as correlations (the clamp keeps the
    // logs of the products, which where() discards, finite)
    Tensor ratio = second / (scale.index_select(1, j) * scale.index_select(1, k));
    free = torch::where((j == k).unsqueeze(0), torch::log(second.clamp_min(0) + eps), ratio);
  } else {
    second = squares;
    free = torch::log(squares + eps);
  }
  std::vector<Tensor> parts = {means, second, means / scale, free};
  for (int64_t lag = 1; lag <= lags; ++lag) {
    parts.push_back(lag < steps ? (xm.narrow(1, lag, steps - lag) * xm.narrow(1, 0, steps - lag)).sum(1) / n /
                                      (squares + eps)
                                : torch::zeros({x.size(0), d}, x.options()));
  }
  return torch::cat(parts, 1);
}

void init_parameters(torch::nn::Module& module, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  double bound = 1.0;
  bool after_scale = false;  // the previous parameter was a 1-d weight
  for (auto& item : module.named_parameters(true)) {
    Tensor& p = item.value();
    const std::string& name = item.key();
    const bool is_bias = name.size() >= 4 && name.find("bias") != std::string::npos;
    if (p.dim() >= 2) {
      const int64_t fan_in = p.numel() / p.size(0);
      bound = 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(fan_in, 1)));
      p.uniform_(-bound, bound, gen);
      after_scale = false;
    } else if (!is_bias) {  // a normalization scale
      p.fill_(1.0);
      after_scale = true;
    } else if (after_scale) {
      p.zero_();
      after_scale = false;
    } else {
      p.uniform_(-bound, bound, gen);
    }
  }
}

}  // namespace amortized
