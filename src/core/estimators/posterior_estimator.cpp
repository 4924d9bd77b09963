#include "amortized/estimators/posterior_estimator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace amortized {

ConditionNetOptions condition_options(const PosteriorEstimatorOptions& o) {
  return ConditionNetOptions(o.dim_x())
      .set_shape(o.set_shape())
      .set_features(o.set_features())
      .dim_context(o.dim_context())
      .variable_length(o.variable_length())
      .standardize(o.standardize_x());
}

PosteriorEstimatorImpl::PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, ConditionNet embedding,
                                               const PosteriorEstimatorOptions& options)
    : options_(options), net_(std::move(net)), embedding_(std::move(embedding)) {
  check_options();
}

PosteriorEstimatorImpl::PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net,
                                               std::shared_ptr<SummaryNetImpl> summary,
                                               const PosteriorEstimatorOptions& options)
    : PosteriorEstimatorImpl(std::move(net), ConditionNet(condition_options(options), std::move(summary)), options) {}

PosteriorEstimatorImpl::PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, FusionNet fusion,
                                               const PosteriorEstimatorOptions& options)
    : PosteriorEstimatorImpl(std::move(net), ConditionNet(condition_options(options), std::move(fusion)), options) {}

PosteriorEstimatorImpl::PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, int64_t dim_theta,
                                               int64_t dim_x, std::vector<int64_t> set_shape,
                                               bool linear_residual)
    : PosteriorEstimatorImpl(std::move(net), std::shared_ptr<SummaryNetImpl>(),
                             PosteriorEstimatorOptions(dim_theta, dim_x)
                                 .set_shape(std::move(set_shape))
                                 .linear_residual(linear_residual)) {}

// Checks the options against the networks and registers every module.
void PosteriorEstimatorImpl::check_options() {
  const auto& o = options_;
  TORCH_CHECK(!embedding_.is_empty(), "the posterior estimator needs a data embedding");
  const auto& e = embedding_->options();
  TORCH_CHECK(e.dim_x() == o.dim_x() && e.set_shape() == o.set_shape() && e.dim_context() == o.dim_context() &&
                  e.variable_length() == o.variable_length(),
              "the data embedding's options differ from the estimator's (see condition_options())");
  const int64_t sources = embedding_->has_fusion() ? embedding_->fusion().size() : 0;
  TORCH_CHECK(o.sources() == sources, "the data embedding has ", sources, " sources, options.sources is ", o.sources());
  TORCH_CHECK(o.dim_theta() >= 1, "the posterior estimator needs dim_theta >= 1, got ", o.dim_theta());
  TORCH_CHECK(net_ != nullptr, "the posterior estimator needs an inference network");
  TORCH_CHECK(net_->dim() == o.dim_theta(), "the inference network models ", net_->dim(),
              " parameters, the estimator ", o.dim_theta());
  TORCH_CHECK(!o.linear_residual() || !(embedding_->has_summary_net() || embedding_->has_fusion()),
              "the linear residual needs flat data (no summary network)");
  const int64_t width = embedding_->output_dim();
  TORCH_CHECK(net_->context_dim() == width, "the inference network takes a context of width ",
              net_->context_dim(), ", the data give ", width, " features");
  TORCH_CHECK(o.lower().size() == o.upper().size() &&
                  (o.lower().empty() || static_cast<int64_t>(o.lower().size()) == o.dim_theta()),
              "lower and upper need one bound per parameter (", o.dim_theta(), ")");
  register_module("net", net_);
  register_module("embedding", embedding_);
  std::vector<double> lower = o.lower(), upper = o.upper();
  std::vector<std::shared_ptr<TransformImpl>> structure;
  if (!o.rotation().empty()) structure.push_back(std::make_shared<RotationImpl>(o.dim_theta(), o.rotation()));
  if (!o.symmetric().empty()) {  // symmetric parameters are modelled as |theta_i| in (0, upper)
    fold_ = SignFold(o.dim_theta(), o.symmetric());
    structure.push_back(fold_.ptr());
    const double inf = std::numeric_limits<double>::infinity();
    if (lower.empty()) {
      lower.assign(o.dim_theta(), -inf);
      upper.assign(o.dim_theta(), inf);
    }
    for (int64_t i : o.symmetric()) {
      TORCH_CHECK(lower[i] == -upper[i], "symmetric: the bounds of parameter ", i,
                  " must be symmetric about 0 (lower = -upper), got (", lower[i], ", ", upper[i], ")");
      lower[i] = 0.0;
    }
  }
  if (!o.truncate_lower().empty() || !o.truncate_upper().empty()) {
    TORCH_CHECK(static_cast<int64_t>(o.truncate_lower().size()) == o.dim_theta() &&
                    o.truncate_upper().size() == o.truncate_lower().size(),
                "truncate_lower and truncate_upper need one bound per parameter (", o.dim_theta(), ")");
  }
  truncation_ = Truncation(o.truncate_lower(), o.truncate_upper(), o.truncation_draws());
  std::vector<std::shared_ptr<TransformImpl>> chain;
  if (!lower.empty()) {
    Bounded b(lower, upper);
    if (b->any_bounded()) chain.push_back((bounds_ = register_module("bounds", b)).ptr());
  }
  theta_std_ = register_module("theta_standardize", Standardize(o.dim_theta()));
  chain.push_back(theta_std_.ptr());
  if (o.linear_residual()) {
    residual_ = register_module("linear_residual", LinearResidual(o.dim_theta(), width, o.whiten_residual()));
    chain.push_back(residual_.ptr());
  }
  // the chains hold the modules registered above (under their own names: not registered again)
  structure_ = Composed(o.dim_theta(), structure);
  theta_chain_ = Composed(o.dim_theta(), chain);
  TORCH_CHECK(o.equivariances().empty() || !embedding_->has_fusion(), "equivariances do not work with a fusion network");
  const auto& set = o.set_shape();
  group_ = SymmetryGroup(o.equivariances(), o.dim_theta(), set.empty() ? 1 : set[0], set.empty() ? o.dim_x() : set[1]);
}

std::pair<Tensor, DataBatch> PosteriorEstimatorImpl::transform(const Tensor& theta, const DataBatch& d,
                                                               const Tensor& elements) const {
  check_shape(theta, "theta", {rows(d), dim_theta()});
  DataBatch out = transform_data(d, elements);
  return {group_.transform_theta(theta, elements), out};
}

DataBatch PosteriorEstimatorImpl::transform_data(const DataBatch& d, const Tensor& elements) const {
  embedding_->check(d);
  check_shape(elements, "elements", {rows(d)});
  if (group_size() == 1) return d;
  DataBatch out = d;
  out.x = group_.transform_x(d.x, elements);
  return out;
}

void PosteriorEstimatorImpl::fit_standardization(const Tensor& theta_in, const DataBatch& d_in) {
  embedding_->check(d_in);
  check_shape(theta_in, "theta", {rows(d_in), dim_theta()});
  torch::NoGradGuard no_grad;
  // with a group: row i transformed by element i mod G, so that the
  // standardization is (close to) invariant
  auto [theta, d] = transform(theta_in, d_in, torch::arange(rows(d_in), torch::kLong).remainder(group_size()));
  const Tensor folded = structure_->forward(theta, Tensor()).first;
  const Tensor unbounded = bounds_ ? bounds_->forward(folded, Tensor()).first : folded;
  if (options_.standardize_theta()) theta_std_->fit(unbounded);
  embedding_->fit(d);
  if (residual_) residual_->fit(theta_std_->apply(unbounded), condition(d));
}

Tensor PosteriorEstimatorImpl::loss(const Tensor& theta, const DataBatch& data) {
  const DataBatch d = embedding_->augment(data);
  if (!is_training() || group_size() == 1) return loss_of(theta, d);
  auto [t, a] = transform(theta, d, torch::randint(0, group_size(), {rows(d)}, augment_gen_, torch::kLong));
  return loss_of(t, a);
}

Tensor PosteriorEstimatorImpl::loss_of(const Tensor& theta, const DataBatch& d) {
  check_shape(theta, "theta", {rows(d), dim_theta()});
  Tensor cond = condition(d);
  return net_->loss(theta_chain_->forward(structure_->forward(theta, Tensor()).first, cond).first, cond) +
         embedding_->summary_penalty(cond);
}

Tensor PosteriorEstimatorImpl::log_prob(const Tensor& theta, const DataBatch& d) {
  if (!symmetrized()) return log_prob_of(theta, d);
  // the mean density over the group: log (1/G) sum_g q(g theta | g x)
  check_shape(theta, "theta", {rows(d), dim_theta()});
  const int64_t g_n = group_size(), b = rows(d);
  Tensor elements = torch::arange(g_n, torch::kLong).repeat_interleave(b);
  auto [t, dg] = transform(theta.repeat({g_n, 1}), repeat_rows(d, g_n), elements);
  return torch::logsumexp(log_prob_of(t, dg).view({g_n, b}), 0) - std::log(static_cast<double>(g_n));
}

Tensor PosteriorEstimatorImpl::sample(int64_t n, const DataBatch& d, at::Generator& gen) {
  if (!symmetrized()) return sample_of(n, d, gen);
  // an equal mixture of g^-1 q(. | g x) over the group: ceil(n / G) draws
  // from each member, shuffled, the first n kept
  embedding_->check(d);
  const int64_t g_n = group_size(), b = rows(d), m = (n + g_n - 1) / g_n, k = dim_theta();
  Tensor elements = torch::arange(g_n, torch::kLong).repeat_interleave(b);
  DataBatch dg = transform_data(repeat_rows(d, g_n), elements);
  Tensor draws = sample_of(m, dg, gen);  // [G b, m, k]
  draws = group_.untransform_theta(draws.reshape({-1, k}), elements.repeat_interleave(m)).view({g_n, b, m, k});
  draws = draws.permute({1, 0, 2, 3}).reshape({b, g_n * m, k});
  Tensor order = torch::rand({b, g_n * m}, gen, torch::kDouble).argsort(/*dim=*/int64_t{1}).narrow(1, 0, n).to(draws.device());
  return draws.gather(1, order.unsqueeze(2).expand({b, n, k}));
}

Tensor PosteriorEstimatorImpl::log_prob_of(const Tensor& theta_in, const DataBatch& d) {
  check_shape(theta_in, "theta", {rows(d), dim_theta()});
  Tensor cond = condition(d);
  // a symmetric parameter's density is half that of its absolute value
  const Tensor theta = structure_->forward(theta_in, Tensor()).first;
  const double log_half = fold_.is_empty() ? 0.0 : fold_->log_density_shift();
  const double minus_inf = -std::numeric_limits<double>::infinity();
  Tensor lp;
  if (!bounds_) {
    auto [z, logdet] = theta_chain_->forward(theta, cond);
    lp = net_->log_prob(z, cond) + logdet + log_half;
  } else {
    // outside the bounds the density is zero; evaluate the net at safe values there
    Tensor inside = bounds_->inside(theta);
    Tensor safe =
        torch::where(inside.unsqueeze(1), theta, bounds_->inverse(torch::zeros_like(theta), Tensor()).first);
    auto [z, logdet] = theta_chain_->forward(safe, cond);
    lp = net_->log_prob(z, cond) + logdet + log_half;
    lp = torch::where(inside, lp, torch::full_like(lp, minus_inf));
  }
  if (!truncation_.active()) return lp;
  lp = lp - truncation_.log_mass(cond.detach(), draw_fn()).to(lp.scalar_type());
  return torch::where(truncation_.inside(theta_in).to(lp.device()), lp, torch::full_like(lp, minus_inf));
}

Tensor PosteriorEstimatorImpl::log_support_mass(const DataBatch& d) {
  Tensor cond = condition(d);
  if (!truncation_.active()) return torch::zeros({cond.size(0)}, cond.options());
  return truncation_.log_mass(cond, draw_fn());
}

Truncation::DrawFn PosteriorEstimatorImpl::draw_fn() {
  return [this](int64_t n, const Tensor& cond, at::Generator& gen) { return draw(n, cond, gen); };
}

Tensor PosteriorEstimatorImpl::sample_of(int64_t n, const DataBatch& d, at::Generator& gen) {
  Tensor cond = condition(d);
  return truncation_.active() ? truncation_.sample(n, cond, draw_fn(), gen) : draw(n, cond, gen);
}

Tensor PosteriorEstimatorImpl::draw(int64_t n, const Tensor& cond, at::Generator& gen) {
  Tensor draws = net_->sample(n, cond, gen);  // [batch, n, dim_theta]
  const int64_t batch = draws.size(0), width = cond.size(1);
  Tensor rows = residual_ ? cond.unsqueeze(1).expand({batch, n, width}).reshape({batch * n, width}) : Tensor();
  Tensor flat = theta_chain_->inverse(draws.reshape({batch * n, dim_theta()}), rows).first;
  // symmetric parameters get fair random signs (drawn on the CPU like the flow's noise)
  return structure_->draw_inverse(flat, Tensor(), gen).reshape({batch, n, dim_theta()});
}

std::vector<std::string> PosteriorEstimatorImpl::describe() const {
  std::vector<std::string> out;
  if (bounds_) out.push_back(bounds_->describe());
  if (truncation_.active()) out.push_back(truncation_.describe());
  for (auto& line : embedding_->describe()) out.push_back(line);
  if (residual_) out.push_back(residual_->describe());
  for (auto& line : net_->describe()) out.push_back(line);
  return out;
}

}  // namespace amortized
