// Truncation to the prior's support by rejection, and the mass inside it.
#include "amortized/structure/truncation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace amortized {

Truncation::Truncation(const std::vector<double>& lower, const std::vector<double>& upper, int64_t mass_draws)
    : lower_(lower), upper_(upper), mass_draws_(mass_draws) {
  if (lower.empty() && upper.empty()) return;
  TORCH_CHECK(lower.size() == upper.size(), "the truncation needs a lower and an upper bound per parameter");
  TORCH_CHECK(mass_draws >= 100, "truncation_draws must be at least 100, got ", mass_draws);
  Bounded box(lower, upper);
  if (box->any_bounded()) support_ = box;
}

Tensor Truncation::log_mass(const Tensor& cond, const DrawFn& draw) const {
  torch::NoGradGuard no_grad;
  // one estimate per distinct data set (log_prob often evaluates many theta
  // for one data set), from a fixed stream
  auto [unique, inverse, counts] = torch::unique_dim(cond, 0, /*sorted=*/true, /*return_inverse=*/true);
  at::Generator gen = make_generator(20261124);
  const int64_t m = mass_draws_;
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 20) / m);
  std::vector<Tensor> mass;
  for (int64_t start = 0; start < unique.size(0); start += chunk) {
    Tensor c = unique.narrow(0, start, std::min(chunk, unique.size(0) - start));
    Tensor draws = draw(m, c, gen);
    Tensor inside = support_->inside(draws.reshape({-1, draws.size(2)})).reshape({c.size(0), m});
    // (count + 1) / (m + 2): never log(0) when no draw falls inside
    mass.push_back((inside.sum(1).to(torch::kDouble) + 1.0) / static_cast<double>(m + 2));
  }
  return torch::cat(mass).log().index_select(0, inverse.to(torch::kLong)).to(cond.scalar_type());
}
// Rejection: rounds of draws for the data sets that still need some, each
// sized by that data set's shortfall over its acceptance so far and drawn
// in blocks of q (a data set's condition repeated once per block);
// accepted draws keep their order.
Tensor Truncation::sample(int64_t n, const Tensor& cond, const DrawFn& draw, at::Generator& gen) const {
  const int64_t batch = cond.size(0), dim = static_cast<int64_t>(lower_.size());
  Tensor out = torch::empty({batch, n, dim}, cond.options());
  if (n == 0 || batch == 0) return out;
  std::vector<int64_t> filled(batch, 0), tried(batch, 0);
  // give up on a data set after this many draws (acceptance below 1 in 1000)
  const int64_t max_tries = 1000 * n + 100000;
  const int64_t max_draws = int64_t{1} << 21;  // per round, all data sets together
  std::vector<int64_t> pending(batch);
  std::iota(pending.begin(), pending.end(), int64_t{0});
  while (!pending.empty()) {
    const int64_t p = static_cast<int64_t>(pending.size());
    std::vector<int64_t> want(p);
    for (int64_t j = 0; j < p; ++j) {
      const int64_t i = pending[j];
      // first round: n each (most data sets lose few draws); later: 10% spare
      const double accept = tried[i] > 0 ? std::max(1e-3, static_cast<double>(filled[i]) / tried[i]) / 1.1 : 1.0;
      want[j] = std::min(static_cast<int64_t>(std::ceil(static_cast<double>(n - filled[i]) / accept)) + 16,
                         std::max(n - filled[i], max_draws / p));
    }
    const int64_t q = std::max<int64_t>(1, *std::min_element(want.begin(), want.end()));
    std::vector<int64_t> owners, blocks(p);
    for (int64_t j = 0; j < p; ++j) {
      blocks[j] = (want[j] + q - 1) / q;
      owners.insert(owners.end(), blocks[j], pending[j]);
    }
    const auto device = cond.device();
    Tensor own = torch::tensor(owners, torch::kLong).to(device);
    const int64_t m = own.size(0) * q;
    Tensor cand = draw(q, cond.index_select(0, own), gen).reshape({m, dim});
    Tensor ok = support_->inside(cand).to(device);
    // each accepted draw's slot in out: filled + its rank among its data set's accepted draws
    Tensor accepted = ok.to(torch::kLong).cumsum(0);
    Tensor ends = torch::tensor(blocks, torch::kLong).cumsum(0).mul_(q).sub_(1);  // last candidate of each data set
    Tensor at_end = accepted.index_select(0, ends.to(device)).to(torch::kCPU);
    std::vector<int64_t> base(p), count(p), first(p);
    for (int64_t j = 0; j < p; ++j) {
      base[j] = j == 0 ? 0 : at_end[j - 1].item<int64_t>();
      count[j] = blocks[j] * q;
      first[j] = filled[pending[j]];
    }
    Tensor counts = torch::tensor(count, torch::kLong).to(device);
    Tensor offset = (torch::tensor(first, torch::kLong) - torch::tensor(base, torch::kLong)).to(device);
    Tensor slot = accepted - 1 + offset.repeat_interleave(counts);
    Tensor keep = ok & (slot < n);
    out.index_put_({own.repeat_interleave(q).index({keep}), slot.index({keep})}, cand.index({keep}));
    std::vector<int64_t> still;
    for (int64_t j = 0; j < p; ++j) {
      const int64_t i = pending[j];
      filled[i] = std::min(n, filled[i] + at_end[j].item<int64_t>() - base[j]);
      tried[i] += count[j];
      if (filled[i] >= n) continue;
      TORCH_CHECK(tried[i] < max_tries, "only ", filled[i], " of ", tried[i],
                  " draws fell inside the truncation (the prior's support) for data set ", i + 1,
                  ": the estimator puts almost no mass there. Are these data possible under the simulator?");
      still.push_back(i);
    }
    pending.swap(still);
  }
  return out;
}

std::string Truncation::describe() const {
  int64_t k = 0;
  for (size_t i = 0; i < lower_.size(); ++i) k += std::isfinite(lower_[i]) || std::isfinite(upper_[i]);
  return "truncated by rejection to the bounds of " + std::to_string(k) + " parameter" + (k == 1 ? "" : "s");
}

}  // namespace amortized
