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
  TORCH_CHECK(o.flat_points() >= 0 && !(o.sets() && o.flat_points() > 0),
              "the likelihood estimator takes sets or flat points, not both (flat_points = ", o.flat_points(), ")");
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
  if (o.linear_residual()) residual_ = register_module("linear_residual", LinearResidual(o.dim_x(), embedding_->output_dim(), o.whiten_residual()));
}

std::pair<Tensor, Tensor> LikelihoodEstimatorImpl::to_net(const Tensor& x, const Tensor& cond) {
  auto [z, logdet] = x_std_->forward(x, Tensor());
  if (!residual_) return {z, logdet};
  auto [r, logdet_r] = residual_->forward(z, cond);
  return {r, logdet + logdet_r};
}

void LikelihoodEstimatorImpl::check(const Tensor& theta, const DataBatch& d) const {
  TORCH_CHECK(d.sources.empty(), "the likelihood estimator takes flat or set data, not several sources");
  if (options_.sets()) {
    check_shape(d.x, "x", {-1, -1, options_.dim_x()});
    if (d.lengths.defined()) check_shape(d.lengths, "lengths", {d.x.size(0)});
  } else {
    check_shape(d.x, "x", {-1, width()});
  }
  check_shape(theta, "theta", {d.x.size(0), options_.dim_theta()});
  if (options_.dim_context() > 0) check_shape(d.context, "context", {d.x.size(0), options_.dim_context()});
}

Tensor LikelihoodEstimatorImpl::condition(const Tensor& theta, const Tensor& context) {
  Tensor t = bounds_ ? bounds_->forward(theta, Tensor()).first.to(theta.scalar_type()) : theta;
  return embedding_->forward(DataBatch{t, {}, context});
}

DataBatch LikelihoodEstimatorImpl::as_points(const DataBatch& d) const {
  if (options_.flat_points() == 0) return d;
  DataBatch out = d;
  out.x = d.x.reshape({d.x.size(0), options_.flat_points(), options_.dim_x()});
  return out;
}

std::tuple<Tensor, Tensor, Tensor, Tensor> LikelihoodEstimatorImpl::examples(const Tensor& theta,
                                                                             const DataBatch& data) const {
  const DataBatch d = as_points(data);
  const int64_t b = d.x.size(0);
  if (!by_point()) return {theta, d.context, d.x, torch::arange(b, torch::kLong)};
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
  if (residual_) residual_->fit(x_std_->apply(x), condition(t, c));
}

Tensor LikelihoodEstimatorImpl::loss(const Tensor& theta, const DataBatch& d) {
  check(theta, d);
  auto [t, c, x, owner] = examples(theta, d);
  const Tensor cond = condition(t, c);
  return net_->loss(to_net(x, cond).first, cond);
}

Tensor LikelihoodEstimatorImpl::log_prob(const Tensor& theta, const DataBatch& d) {
  check(theta, d);
  auto [t, c, x, owner] = examples(theta, d);
  const Tensor cond = condition(t, c);
  auto [z, logdet] = to_net(x, cond);
  Tensor lp = net_->log_prob(z, cond) + logdet;
  if (!by_point()) return lp;
  return torch::zeros({d.x.size(0)}, lp.options()).index_add(0, owner.to(lp.device()), lp);
}

Tensor LikelihoodEstimatorImpl::sample(int64_t n, const Tensor& theta, const Tensor& context, int64_t n_obs,
                                       at::Generator& gen) {
  check_shape(theta, "theta", {-1, options_.dim_theta()});
  if (options_.dim_context() > 0) check_shape(context, "context", {theta.size(0), options_.dim_context()});
  TORCH_CHECK(!options_.sets() || n_obs >= 1, "draws of set data need n_obs >= 1, got ", n_obs);
  const int64_t points = options_.sets() ? n_obs : std::max<int64_t>(options_.flat_points(), 1);
  const int64_t b = theta.size(0), per = n * points, dx = options_.dim_x();
  const Tensor cond = condition(theta, context);
  Tensor z = net_->sample(per, cond, gen).reshape({b * per, dx});  // on the network's scale
  if (residual_) {
    z = residual_->inverse(z, cond.unsqueeze(1).expand({b, per, cond.size(1)}).reshape({b * per, cond.size(1)})).first;
  }
  Tensor x = x_std_->inverse(z, Tensor()).first;
  return options_.sets() ? x.reshape({b, n, n_obs, dx}) : x.reshape({b, n, width()});
}

std::vector<std::string> LikelihoodEstimatorImpl::describe() const {
  std::vector<std::string> out;
  if (bounds_) out.push_back(bounds_->describe());
  if (options_.flat_points() > 0) {
    out.push_back("likelihood of one of the data's " + std::to_string(options_.flat_points()) +
                  " iid points (the data's is the product over them)");
  } else {
    out.push_back(options_.sets() ? "likelihood of one point of a set (a set's is the product over its points)"
                                  : "likelihood of the data vector");
  }
  if (residual_) out.push_back(residual_->describe());
  for (auto& line : net_->describe()) out.push_back(line);
  return out;
}

}  // namespace amortized
