#include "amortized/flows/ensemble.h"

#include <cmath>

namespace amortized {

namespace {
int64_t first_dim(const std::vector<std::shared_ptr<InferenceNetImpl>>& m, bool context) {
  TORCH_CHECK(!m.empty() && m.front() != nullptr, "an ensemble needs at least one member");
  return context ? m.front()->context_dim() : m.front()->dim();
}
}  // namespace

EnsembleImpl::EnsembleImpl(std::vector<std::shared_ptr<InferenceNetImpl>> members)
    : InferenceNetImpl(first_dim(members, false), first_dim(members, true)), members_(std::move(members)) {
  for (size_t k = 0; k < members_.size(); ++k) {
    TORCH_CHECK(members_[k] != nullptr, "ensemble member ", k + 1, " is missing");
    TORCH_CHECK(members_[k]->dim() == dim() && members_[k]->context_dim() == context_dim(), "ensemble member ",
                k + 1, " models ", members_[k]->dim(), " parameters with context ", members_[k]->context_dim(),
                "; member 1 ", dim(), " with ", context_dim());
    register_module("member_" + std::to_string(k), members_[k]);
  }
}

Tensor EnsembleImpl::log_prob(const Tensor& theta, const Tensor& context) {
  std::vector<Tensor> parts;
  for (auto& m : members_) parts.push_back(m->log_prob(theta, context));
  return torch::logsumexp(torch::stack(parts, 0), 0) - std::log(static_cast<double>(members_.size()));
}

Tensor EnsembleImpl::sample(int64_t n, const Tensor& context, at::Generator& gen) {
  TORCH_CHECK(n >= 1, "the number of draws must be >= 1, got ", n);
  check_shape(context, "context", {-1, context_dim()});
  const int64_t batch = context.size(0), k = size();
  if (k == 1) return members_.front()->sample(n, context, gen);
  // the member of every draw (drawn on the CPU generator: the same on every device)
  Tensor who = torch::randint(k, {batch * n}, gen, torch::TensorOptions().dtype(torch::kLong));
  Tensor rows = torch::arange(batch, torch::kLong).repeat_interleave(n);  // the context row of every draw
  Tensor out = torch::empty({batch * n, dim()}, context.options());
  for (int64_t m = 0; m < k; ++m) {
    Tensor idx = (who == m).nonzero().squeeze(1);
    if (idx.numel() == 0) continue;
    Tensor ctx = context.index_select(0, rows.index_select(0, idx).to(context.device()));
    Tensor draws = members_[m]->sample(1, ctx, gen).squeeze(1);  // [count, dim]
    out.index_copy_(0, idx.to(context.device()), draws.to(out.scalar_type()));
  }
  return out.reshape({batch, n, dim()});
}

Tensor EnsembleImpl::loss(const Tensor& theta, const Tensor& context) {
  Tensor total = members_.front()->loss(theta, context);
  for (size_t m = 1; m < members_.size(); ++m) total = total + members_[m]->loss(theta, context);
  return total / static_cast<double>(members_.size());
}

void EnsembleImpl::reset_parameters(at::Generator& gen) {
  for (auto& m : members_) m->reset_parameters(gen);
}

std::vector<std::string> EnsembleImpl::describe() const {
  std::vector<std::string> out = {"ensemble of " + std::to_string(members_.size()) + " members (equal-weight mixture)"};
  for (size_t m = 0; m < members_.size(); ++m) {
    for (const auto& line : members_[m]->describe()) out.push_back("member " + std::to_string(m + 1) + ": " + line);
  }
  return out;
}

}  // namespace amortized
