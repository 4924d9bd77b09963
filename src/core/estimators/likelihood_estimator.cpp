#include "amortized/estimators/likelihood_estimator.h"

namespace amortized {

ConditionNetOptions likelihood_condition_options(const LikelihoodEstimatorOptions& o) {
  return ConditionNetOptions(o.dim_theta()).dim_context(o.dim_context()).standardize(o.standardize_theta());
}

LikelihoodEstimatorImpl::LikelihoodEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, ConditionNet embedding,
                                                 const LikelihoodEstimatorOptions& options)
    : options_(options), net_(std::move(net)), embedding_(std::move(embedding)) {
  const auto& o = options_;
  TORCH_CHECK(o.dim_theta() >= 1 && o.dim_x() >= 1, "the likelihood estimator needs dim_theta >= 1 and dim_x >= 1");
  TORCH_CHECK(net_ != nullptr, "the likelihood estimator needs an inference network");
  TORCH_CHECK(!embedding_.is_empty() && !embedding_->has_summary_net() && !embedding_->has_fusion() &&
                  embedding_->options().dim_x() == o.dim_theta() && embedding_->options().dim_context() == o.dim_context(),
              "the likelihood estimator's embedding must be likelihood_condition_options(options)");
  TORCH_CHECK(net_->dim() == o.dim_x(), "the inference network models ", net_->dim(), " variables, the data have ",
              o.dim_x());
  TORCH_CHECK(net_->context_dim() == embedding_->output_dim(), "the inference network takes a context of width ",
              net_->context_dim(), ", the parameters and context give ", embedding_->output_dim());
  TORCH_CHECK(o.lower().size() == o.upper().size() &&
                  (o.lower().empty() || static_cast<int64_t>(o.lower().size()) == o.dim_theta()),
              "lower and upper need one bound per parameter (", o.dim_theta(), ")");
  register_module("net", net_);
  register_module("embedding", embedding_);
  if (!o.lower().empty()) {
    Bounded b(o.lower(), o.upper());
    if (b->any_bounded()) bounds_ = register_module("bounds", b);
  }
  x_std_ = register_module("x_standardize", Standardize(o.dim_x()));
}

void LikelihoodEstimatorImpl::check(const Tensor& theta, const DataBatch& d) const {
  TORCH_CHECK(d.sources.empty(), "the likelihood estimator takes flat or set data, not several sources");
  if (options_.sets()) {
    check_shape(d.x, "x", {-1, -1, options_.dim_x()});
    if (d.lengths.defined()) check_shape(d.lengths, "lengths", {d.x.size(0)});
  } else {
    check_shape(d.x, "x", {-1, options_.dim_x()});
  }
  check_shape(theta, "theta", {d.x.size(0), options_.dim_theta()});
  if (options_.dim_context() > 0) check_shape(d.context, "context", {d.x.size(0), options_.dim_context()});
}

Tensor LikelihoodEstimatorImpl::condition(const Tensor& theta, const Tensor& context) {
  Tensor t = bounds_ ? bounds_->forward(theta, Tensor()).first.to(theta.scalar_type()) : theta;
  return embedding_->forward(DataBatch{t, {}, context});
}

std::tuple<Tensor, Tensor, Tensor, Tensor> LikelihoodEstimatorImpl::examples(const Tensor& theta,
                                                                             const DataBatch& d) const {
  const int64_t b = d.x.size(0);
  if (!options_.sets()) return {theta, d.context, d.x, torch::arange(b, torch::kLong)};
  const int64_t n = d.x.size(1);
  Tensor lengths = d.lengths.defined() ? d.lengths.to(torch::kCPU) : torch::full({b}, n, torch::kLong);
  Tensor valid = (torch::arange(n, torch::kLong).unsqueeze(0) < lengths.unsqueeze(1)).reshape({-1});  // [b * n]
  Tensor owner = torch::arange(b, torch::kLong).repeat_interleave(n).index({valid});
  Tensor x = d.x.reshape({b * n, options_.dim_x()}).index({valid.to(d.x.device())});
  Tensor dev_owner = owner.to(theta.device());
  return {theta.index_select(0, dev_owner), d.context.defined() ? d.context.index_select(0, dev_owner) : d.context, x,
          owner};
}

void LikelihoodEstimatorImpl::fit_standardization(const Tensor& theta, const DataBatch& d) {
  check(theta, d);
  torch::NoGradGuard no_grad;
  auto [t, c, x, owner] = examples(theta, d);
  if (options_.standardize_x()) x_std_->fit(x);
  embedding_->fit(DataBatch{bounds_ ? bounds_->forward(theta, Tensor()).first.to(theta.scalar_type()) : theta, {},
                            d.context});
}

Tensor LikelihoodEstimatorImpl::loss(const Tensor& theta, const DataBatch& d) {
  check(theta, d);
  auto [t, c, x, owner] = examples(theta, d);
  return net_->loss(x_std_->apply(x), condition(t, c));
}

Tensor LikelihoodEstimatorImpl::log_prob(const Tensor& theta, const DataBatch& d) {
  check(theta, d);
  auto [t, c, x, owner] = examples(theta, d);
  auto [z, logdet] = x_std_->forward(x, Tensor());
  Tensor lp = net_->log_prob(z, condition(t, c)) + logdet;
  if (!options_.sets()) return lp;
  return torch::zeros({d.x.size(0)}, lp.options()).index_add(0, owner.to(lp.device()), lp);
}

Tensor LikelihoodEstimatorImpl::sample(int64_t n, const Tensor& theta, const Tensor& context, int64_t n_obs,
                                       at::Generator& gen) {
  check_shape(theta, "theta", {-1, options_.dim_theta()});
  if (options_.dim_context() > 0) check_shape(context, "context", {theta.size(0), options_.dim_context()});
  TORCH_CHECK(!options_.sets() || n_obs >= 1, "draws of set data need n_obs >= 1, got ", n_obs);
  const int64_t b = theta.size(0), per = options_.sets() ? n * n_obs : n, dx = options_.dim_x();
  Tensor draws = net_->sample(per, condition(theta, context), gen);  // [b, per, dim_x] standardized
  Tensor x = x_std_->inverse(draws.reshape({b * per, dx}), Tensor()).first;
  return options_.sets() ? x.reshape({b, n, n_obs, dx}) : x.reshape({b, n, dx});
}

std::vector<std::string> LikelihoodEstimatorImpl::describe() const {
  std::vector<std::string> out;
  if (bounds_) out.push_back(bounds_->describe());
  out.push_back(options_.sets() ? "likelihood of one point of a set (a set's is the product over its points)"
                                : "likelihood of the data vector");
  for (auto& line : net_->describe()) out.push_back(line);
  return out;
}

}  // namespace amortized
