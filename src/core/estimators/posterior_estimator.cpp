#include "amortized/estimators/posterior_estimator.h"

#include <limits>

namespace amortized {

PosteriorEstimatorImpl::PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net,
                                               std::shared_ptr<SummaryNetImpl> summary,
                                               const PosteriorEstimatorOptions& options)
    : options_(options), net_(std::move(net)), summary_(std::move(summary)) {
  const auto& o = options_;
  const auto& set = o.set_shape();
  TORCH_CHECK(o.dim_theta() >= 1, "the posterior estimator needs dim_theta >= 1, got ", o.dim_theta());
  TORCH_CHECK(o.dim_x() >= 1, "the posterior estimator needs dim_x >= 1, got ", o.dim_x());
  TORCH_CHECK(o.dim_context() >= 0, "dim_context must be >= 0, got ", o.dim_context());
  TORCH_CHECK(set.empty() || (set.size() == 2 && set[0] >= 1 && set[1] >= 1 && set[0] * set[1] == o.dim_x()),
              "set_shape must be {n_obs, dim} with n_obs * dim equal to the ", o.dim_x(), " data values");
  TORCH_CHECK(net_ != nullptr, "the posterior estimator needs an inference network");
  TORCH_CHECK(net_->dim() == o.dim_theta(), "the inference network models ", net_->dim(),
              " parameters, the estimator ", o.dim_theta());
  if (summary_) {
    TORCH_CHECK(set.empty(), "set_shape is for flat data; with a summary network the data are [batch, n, dim_x]");
    TORCH_CHECK(!o.linear_residual(), "the linear residual needs flat data (no summary network)");
    TORCH_CHECK(summary_->input_dim() == o.dim_x(), "the summary network takes ", summary_->input_dim(),
                " variables per point, the data have ", o.dim_x());
  } else {
    TORCH_CHECK(!o.variable_length(), "variable_length needs a summary network");
  }
  const int64_t width = context_width(o, summary_ ? summary_->output_dim() : 0);
  TORCH_CHECK(net_->context_dim() == width, "the inference network takes a context of width ",
              net_->context_dim(), ", the data give ", width, " features");
  TORCH_CHECK(o.lower().size() == o.upper().size() &&
                  (o.lower().empty() || static_cast<int64_t>(o.lower().size()) == o.dim_theta()),
              "lower and upper need one bound per parameter (", o.dim_theta(), ")");
  register_module("net", net_);
  if (summary_) register_module("summary", summary_);
  if (!o.lower().empty()) {
    Bounded b(o.lower(), o.upper());
    if (b->any_bounded()) bounds_ = register_module("bounds", b);
  }
  theta_std_ = register_module("theta_standardize", Standardize(o.dim_theta()));
  x_std_ = register_module("x_standardize",
                           Standardize(summary_ ? o.dim_x() : context_width(o.dim_x(), set)));
  n_extra_ = (o.variable_length() ? 1 : 0) + o.dim_context();
  if (n_extra_ > 0) extra_std_ = register_module("extra_standardize", Standardize(n_extra_));
  if (o.linear_residual()) residual_ = register_module("linear_residual", LinearResidual(o.dim_theta(), width));
}

PosteriorEstimatorImpl::PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, int64_t dim_theta,
                                               int64_t dim_x, std::vector<int64_t> set_shape,
                                               bool linear_residual)
    : PosteriorEstimatorImpl(std::move(net), nullptr,
                             PosteriorEstimatorOptions(dim_theta, dim_x)
                                 .set_shape(std::move(set_shape))
                                 .linear_residual(linear_residual)) {}

int64_t PosteriorEstimatorImpl::context_width(int64_t dim_x, const std::vector<int64_t>& set_shape) {
  if (set_shape.size() != 2) return dim_x;
  const int64_t d = set_shape[1];
  return dim_x + d + d * (d + 1) / 2;
}

int64_t PosteriorEstimatorImpl::context_width(const PosteriorEstimatorOptions& o, int64_t summary_dim) {
  const int64_t data = summary_dim > 0 ? summary_dim : context_width(o.dim_x(), o.set_shape());
  return data + (o.variable_length() ? 1 : 0) + o.dim_context();
}

void PosteriorEstimatorImpl::check_data(const DataBatch& d) const {
  if (summary_) {
    check_shape(d.x, "x", {-1, -1, dim_x()});
    if (d.lengths.defined()) check_shape(d.lengths, "lengths", {d.x.size(0)});
  } else {
    check_shape(d.x, "x", {-1, dim_x()});
  }
  if (options_.dim_context() > 0) {
    check_shape(d.context, "context", {d.x.size(0), options_.dim_context()});
  } else {
    TORCH_CHECK(!d.context.defined() || d.context.size(1) == 0, "this estimator takes no context variables");
  }
}

Tensor PosteriorEstimatorImpl::canonical(const Tensor& x) const {
  const auto& set = options_.set_shape();
  if (set.empty()) return x;
  const int64_t b = x.size(0), n = set[0], d = set[1];
  Tensor points = x.reshape({b, n, d});
  Tensor order = std::get<1>(points.select(2, 0).sort(1));  // [b, n]
  Tensor sorted = points.gather(1, order.unsqueeze(2).expand({b, n, d})).reshape({b, n * d});
  // moments: the mean point and the mean of x_i x_j for i <= j
  std::vector<Tensor> features = {sorted, points.mean(1)};
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = i; j < d; ++j) features.push_back((points.select(2, i) * points.select(2, j)).mean(1, true));
  return torch::cat(features, 1);
}

// [batch, n_extra]: sqrt(length) (when lengths vary), then the context.
static Tensor raw_extra(const DataBatch& d, bool variable_length, const Tensor& like) {
  std::vector<Tensor> parts;
  if (variable_length) {
    Tensor len = d.lengths.defined() ? d.lengths.to(like.scalar_type())
                                     : torch::full({d.x.size(0)}, static_cast<double>(d.x.size(1)), like.options());
    parts.push_back(torch::sqrt(len).unsqueeze(1));
  }
  if (d.context.defined() && d.context.size(1) > 0) parts.push_back(d.context.to(like.scalar_type()));
  return torch::cat(parts, 1);
}

Tensor PosteriorEstimatorImpl::extra_context(const DataBatch& d) const {
  return extra_std_->apply(raw_extra(d, options_.variable_length(), d.x));
}

void PosteriorEstimatorImpl::fit_standardization(const Tensor& theta, const DataBatch& d) {
  check_data(d);
  check_shape(theta, "theta", {d.x.size(0), dim_theta()});
  torch::NoGradGuard no_grad;
  const Tensor unbounded = bounds_ ? bounds_->forward(theta, Tensor()).first : theta;
  if (options_.standardize_theta()) theta_std_->fit(unbounded);
  if (!options_.standardize_x()) {
    // x stays as it is
  } else if (summary_) {
    // the valid points of every data set, pooled
    Tensor points = d.x.reshape({-1, dim_x()});
    if (d.lengths.defined()) {
      Tensor steps = torch::arange(d.x.size(1), d.lengths.options()).unsqueeze(0);
      points = points.index({(steps < d.lengths.unsqueeze(1)).reshape({-1})});
    }
    x_std_->fit(points);
  } else {
    x_std_->fit(canonical(d.x));
  }
  if (extra_std_) extra_std_->fit(raw_extra(d, options_.variable_length(), d.x));
  if (residual_) residual_->fit(theta_std_->apply(unbounded), condition(d));
}

Tensor PosteriorEstimatorImpl::condition(const DataBatch& d) {
  check_data(d);
  Tensor features;
  if (summary_) {
    Tensor x = d.x, lengths = d.lengths;
    if (lengths.defined()) {  // drop padding that no data set of the batch needs, zero the rest
      const int64_t longest = lengths.max().item<int64_t>();
      if (longest < x.size(1)) x = x.narrow(1, 0, longest);
      Tensor valid = torch::arange(x.size(1), lengths.options()).unsqueeze(0) < lengths.unsqueeze(1);
      x = torch::where(valid.unsqueeze(2), x, torch::zeros({}, x.options()));
    }
    features = summary_->forward(x_std_->apply(x), lengths);
  } else {
    features = x_std_->apply(canonical(d.x));
  }
  if (n_extra_ == 0) return features;
  return torch::cat({features, extra_context(d)}, 1);
}

std::pair<Tensor, Tensor> PosteriorEstimatorImpl::to_net(const Tensor& theta, const Tensor& cond) {
  Tensor t = theta, logdet = torch::zeros({theta.size(0)}, theta.options());
  if (bounds_) std::tie(t, logdet) = bounds_->forward(t, Tensor());
  auto [s, ld] = theta_std_->forward(t, Tensor());
  logdet = logdet + ld;
  if (!residual_) return {s, logdet};
  auto [r, ld2] = residual_->forward(s, cond);
  return {r, logdet + ld2};
}

Tensor PosteriorEstimatorImpl::loss(const Tensor& theta, const DataBatch& d) {
  check_shape(theta, "theta", {d.x.size(0), dim_theta()});
  Tensor cond = condition(d);
  return net_->loss(to_net(theta, cond).first, cond);
}

Tensor PosteriorEstimatorImpl::log_prob(const Tensor& theta, const DataBatch& d) {
  check_shape(theta, "theta", {d.x.size(0), dim_theta()});
  Tensor cond = condition(d);
  if (!bounds_) {
    auto [z, logdet] = to_net(theta, cond);
    return net_->log_prob(z, cond) + logdet;
  }
  // outside the bounds the density is zero; evaluate the net at safe values there
  Tensor inside = bounds_->inside(theta);
  Tensor safe = torch::where(inside.unsqueeze(1), theta, bounds_->inverse(torch::zeros_like(theta), Tensor()).first);
  auto [z, logdet] = to_net(safe, cond);
  Tensor lp = net_->log_prob(z, cond) + logdet;
  return torch::where(inside, lp, torch::full_like(lp, -std::numeric_limits<double>::infinity()));
}

Tensor PosteriorEstimatorImpl::sample(int64_t n, const DataBatch& d, at::Generator& gen) {
  Tensor cond = condition(d);
  Tensor draws = net_->sample(n, cond, gen);  // [batch, n, dim_theta]
  const int64_t batch = draws.size(0);
  Tensor flat = draws.reshape({batch * n, dim_theta()});
  if (residual_) {
    const int64_t width = cond.size(1);
    Tensor rows = cond.unsqueeze(1).expand({batch, n, width}).reshape({batch * n, width});
    flat = residual_->inverse(flat, rows).first;
  }
  flat = theta_std_->inverse(flat, Tensor()).first;
  if (bounds_) flat = bounds_->inverse(flat, Tensor()).first;
  return flat.reshape({batch, n, dim_theta()});
}

std::vector<std::string> PosteriorEstimatorImpl::describe() const {
  std::vector<std::string> out;
  if (bounds_) out.push_back(bounds_->describe());
  if (summary_) {
    for (auto& line : summary_->describe()) out.push_back(line);
  }
  for (auto& line : net_->describe()) out.push_back(line);
  return out;
}

}  // namespace amortized
