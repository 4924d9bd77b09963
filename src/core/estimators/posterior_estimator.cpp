#include "amortized/estimators/posterior_estimator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace amortized {

PosteriorEstimatorImpl::PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net,
                                               std::shared_ptr<SummaryNetImpl> summary,
                                               const PosteriorEstimatorOptions& options)
    : options_(options), net_(std::move(net)), summary_(std::move(summary)) {
  TORCH_CHECK(options_.sources() == 0, "options.sources is for a fusion network");
  check_options();
}

PosteriorEstimatorImpl::PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, FusionNet fusion,
                                               const PosteriorEstimatorOptions& options)
    : options_(options), net_(std::move(net)), fusion_(std::move(fusion)) {
  TORCH_CHECK(!fusion_.is_empty(), "the fusion network is missing");
  TORCH_CHECK(options_.sources() == fusion_->size(), "the fusion network has ", fusion_->size(),
              " sources, options.sources is ", options_.sources());
  check_options();
}

// Checks the options against the networks and registers every module.
void PosteriorEstimatorImpl::check_options() {
  const auto& o = options_;
  const auto& set = o.set_shape();
  const bool fused = has_fusion();
  TORCH_CHECK(o.dim_theta() >= 1, "the posterior estimator needs dim_theta >= 1, got ", o.dim_theta());
  TORCH_CHECK(o.dim_x() >= (fused ? 0 : 1), "the posterior estimator needs dim_x >= ", fused ? 0 : 1, ", got ",
              o.dim_x());
  TORCH_CHECK(o.dim_context() >= 0, "dim_context must be >= 0, got ", o.dim_context());
  TORCH_CHECK(set.empty() || (set.size() == 2 && set[0] >= 1 && set[1] >= 1 && set[0] * set[1] == o.dim_x()),
              "set_shape must be {n_obs, dim} with n_obs * dim equal to the ", o.dim_x(), " data values");
  TORCH_CHECK(o.set_features() == 1 || o.set_features() == 2, "set_features must be 1 or 2, not ", o.set_features());
  TORCH_CHECK(net_ != nullptr, "the posterior estimator needs an inference network");
  TORCH_CHECK(net_->dim() == o.dim_theta(), "the inference network models ", net_->dim(),
              " parameters, the estimator ", o.dim_theta());
  if (summary_ || fused) {
    TORCH_CHECK(set.empty(), "set_shape is for flat data; with a summary network the data are [batch, n, dim_x]");
    TORCH_CHECK(!o.linear_residual(), "the linear residual needs flat data (no summary network)");
  } else {
    TORCH_CHECK(!o.variable_length(), "variable_length needs a summary network");
  }
  if (summary_) {
    TORCH_CHECK(summary_->input_dim() == o.dim_x(), "the summary network takes ", summary_->input_dim(),
                " variables per point, the data have ", o.dim_x());
  }
  const int64_t width = context_width(o, summary_dim());
  TORCH_CHECK(net_->context_dim() == width, "the inference network takes a context of width ",
              net_->context_dim(), ", the data give ", width, " features");
  TORCH_CHECK(o.lower().size() == o.upper().size() &&
                  (o.lower().empty() || static_cast<int64_t>(o.lower().size()) == o.dim_theta()),
              "lower and upper need one bound per parameter (", o.dim_theta(), ")");
  register_module("net", net_);
  if (summary_) register_module("summary", summary_);
  if (fused) {
    register_module("fusion", fusion_);
    for (int64_t k = 0; k < fusion_->size(); ++k) {
      source_std_.push_back(register_module("source_standardize_" + std::to_string(k),
                                            Standardize(fusion_->net(k).input_dim())));
    }
  }
  std::vector<double> lower = o.lower(), upper = o.upper();
  if (!o.symmetric().empty()) {  // symmetric parameters are modelled as |theta_i| in (0, upper)
    const double inf = std::numeric_limits<double>::infinity();
    if (lower.empty()) {
      lower.assign(o.dim_theta(), -inf);
      upper.assign(o.dim_theta(), inf);
    }
    std::vector<bool> seen(o.dim_theta(), false);
    for (int64_t i : o.symmetric()) {
      TORCH_CHECK(i >= 0 && i < o.dim_theta(), "symmetric: parameter index ", i, " is outside 0..",
                  o.dim_theta() - 1);
      TORCH_CHECK(!seen[i], "symmetric: parameter index ", i, " is given twice");
      seen[i] = true;
      TORCH_CHECK(lower[i] == -upper[i], "symmetric: the bounds of parameter ", i,
                  " must be symmetric about 0 (lower = -upper), got (", lower[i], ", ", upper[i], ")");
      lower[i] = 0.0;
    }
  }
  if (!o.rotation().empty()) {
    const int64_t d = o.dim_theta();
    TORCH_CHECK(static_cast<int64_t>(o.rotation().size()) == d * d, "rotation must be a ", d, " x ", d,
                " matrix (", d * d, " values), got ", o.rotation().size(), " values");
    Tensor q = torch::tensor(o.rotation(), torch::kDouble).reshape({d, d});
    const double err = (q.mm(q.t()) - torch::eye(d, torch::kDouble)).abs().max().item<double>();
    TORCH_CHECK(err < 1e-6, "rotation must be orthogonal (Q Q' = I), but Q Q' - I has an entry of ", err);
    rotation_ = q;
  }
  if (!o.truncate_lower().empty() || !o.truncate_upper().empty()) {
    TORCH_CHECK(static_cast<int64_t>(o.truncate_lower().size()) == o.dim_theta() &&
                    o.truncate_upper().size() == o.truncate_lower().size(),
                "truncate_lower and truncate_upper need one bound per parameter (", o.dim_theta(), ")");
    TORCH_CHECK(o.truncation_draws() >= 100, "truncation_draws must be at least 100, got ", o.truncation_draws());
    Bounded t(o.truncate_lower(), o.truncate_upper());
    if (t->any_bounded()) support_ = t;
  }
  if (!lower.empty()) {
    Bounded b(lower, upper);
    if (b->any_bounded()) bounds_ = register_module("bounds", b);
  }
  theta_std_ = register_module("theta_standardize", Standardize(o.dim_theta()));
  if (o.dim_x() > 0) {
    x_std_ = register_module("x_standardize", Standardize(summary_ ? o.dim_x() : context_width(o.dim_x(), set)));
  }
  n_extra_ = (o.variable_length() ? std::max<int64_t>(o.sources(), 1) : 0) + o.dim_context();
  if (n_extra_ > 0) extra_std_ = register_module("extra_standardize", Standardize(n_extra_));
  if (o.linear_residual()) residual_ = register_module("linear_residual", LinearResidual(o.dim_theta(), width));
  build_group();
}

namespace {

using SignedPerm = std::vector<int64_t>;

void check_signed_permutation(const SignedPerm& p, size_t size, const std::string& what, size_t k) {
  TORCH_CHECK(p.size() == size, "equivariance ", k + 1, ": ", what, " needs ", size, " entries, got ", p.size());
  std::vector<bool> seen(size, false);
  for (int64_t v : p) {
    const int64_t j = v < 0 ? -v : v;
    TORCH_CHECK(j >= 1 && j <= static_cast<int64_t>(size) && !seen[j - 1], "equivariance ", k + 1, ": ", what,
                " must be a signed permutation of 1..", size, " (each index once, any sign)");
    seen[j - 1] = true;
  }
}

// a after b: (a o b)_i = sign(a_i) b_|a_i|.
SignedPerm compose(const SignedPerm& a, const SignedPerm& b) {
  SignedPerm out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] < 0 ? -b[-a[i] - 1] : b[a[i] - 1];
  return out;
}

}  // namespace

void PosteriorEstimatorImpl::build_group() {
  const auto& gens = options_.equivariances();
  if (gens.empty()) return;
  TORCH_CHECK(!has_fusion(), "equivariances do not work with a fusion network");
  const auto& set = options_.set_shape();
  const size_t dt = static_cast<size_t>(dim_theta());
  const size_t dx = static_cast<size_t>(set.empty() ? dim_x() : set[1]);
  for (size_t k = 0; k < gens.size(); ++k) {
    check_signed_permutation(gens[k].theta, dt, "theta", k);
    check_signed_permutation(gens[k].x, dx, "x", k);
  }
  // the closure: every product of generators, found breadth first
  using Element = std::pair<SignedPerm, SignedPerm>;
  SignedPerm id_t(dt), id_x(dx);
  std::iota(id_t.begin(), id_t.end(), 1);
  std::iota(id_x.begin(), id_x.end(), 1);
  std::vector<Element> group{{id_t, id_x}};
  for (size_t next = 0; next < group.size(); ++next) {
    for (const auto& g : gens) {
      Element e{compose(g.theta, group[next].first), compose(g.x, group[next].second)};
      if (std::find(group.begin(), group.end(), e) != group.end()) continue;
      TORCH_CHECK(group.size() < 10000, "the equivariances generate a group of more than 10000 elements");
      group.push_back(std::move(e));
    }
  }
  // gather tables; flat set data: each point's variables permuted alike
  const int64_t points = set.empty() ? 1 : set[0];
  const int64_t g_n = static_cast<int64_t>(group.size());
  std::vector<int64_t> ti, xi;
  std::vector<double> ts, xs;
  for (const auto& [t, x] : group) {
    for (int64_t v : t) {
      ti.push_back((v < 0 ? -v : v) - 1);
      ts.push_back(v < 0 ? -1.0 : 1.0);
    }
    for (int64_t p = 0; p < points; ++p) {
      for (int64_t v : x) {
        xi.push_back(p * static_cast<int64_t>(dx) + (v < 0 ? -v : v) - 1);
        xs.push_back(v < 0 ? -1.0 : 1.0);
      }
    }
  }
  group_theta_index_ = torch::tensor(ti, torch::kLong).reshape({g_n, -1});
  group_theta_sign_ = torch::tensor(ts, torch::kDouble).reshape({g_n, -1});
  group_x_index_ = torch::tensor(xi, torch::kLong).reshape({g_n, -1});
  group_x_sign_ = torch::tensor(xs, torch::kDouble).reshape({g_n, -1});
}

std::pair<Tensor, DataBatch> PosteriorEstimatorImpl::transform(const Tensor& theta, const DataBatch& d,
                                                               const Tensor& elements) const {
  check_shape(theta, "theta", {rows(d), dim_theta()});
  DataBatch out = transform_data(d, elements);
  if (group_size() == 1) return {theta, out};
  const Tensor e = elements.to(torch::kCPU, torch::kLong);
  Tensor idx = group_theta_index_.index_select(0, e).to(theta.device());
  Tensor sign = group_theta_sign_.index_select(0, e).to(theta.device(), theta.scalar_type());
  return {theta.gather(1, idx) * sign, out};
}

DataBatch PosteriorEstimatorImpl::transform_data(const DataBatch& d, const Tensor& elements) const {
  check_data(d);
  check_shape(elements, "elements", {rows(d)});
  if (group_size() == 1) return d;
  const Tensor e = elements.to(torch::kCPU, torch::kLong);
  TORCH_CHECK(e.numel() == 0 || (e.min().item<int64_t>() >= 0 && e.max().item<int64_t>() < group_size()),
              "group elements must be in 0..", group_size() - 1);
  Tensor xi = group_x_index_.index_select(0, e).to(d.x.device());
  Tensor xs = group_x_sign_.index_select(0, e).to(d.x.device(), d.x.scalar_type());
  if (d.x.dim() == 3) {  // [batch, n, dim_x]: every point alike
    xi = xi.unsqueeze(1).expand({-1, d.x.size(1), -1});
    xs = xs.unsqueeze(1);
  }
  DataBatch out = d;
  out.x = d.x.gather(d.x.dim() - 1, xi) * xs;
  return out;
}

PosteriorEstimatorImpl::PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, int64_t dim_theta,
                                               int64_t dim_x, std::vector<int64_t> set_shape,
                                               bool linear_residual)
    : PosteriorEstimatorImpl(std::move(net), std::shared_ptr<SummaryNetImpl>(),
                             PosteriorEstimatorOptions(dim_theta, dim_x)
                                 .set_shape(std::move(set_shape))
                                 .linear_residual(linear_residual)) {}

int64_t PosteriorEstimatorImpl::context_width(int64_t dim_x, const std::vector<int64_t>& set_shape) {
  if (set_shape.size() != 2) return dim_x;
  const int64_t d = set_shape[1];
  return dim_x + d + d * (d + 1) / 2;
}

int64_t PosteriorEstimatorImpl::context_width(const PosteriorEstimatorOptions& o, int64_t summary_dim) {
  int64_t data = summary_dim > 0 ? summary_dim : context_width(o.dim_x(), o.set_shape());
  if (o.sources() > 0) data = summary_dim + o.dim_x();  // a fusion network's summaries and the flat values
  return data + (o.variable_length() ? std::max<int64_t>(o.sources(), 1) : 0) + o.dim_context();
}

int64_t PosteriorEstimatorImpl::summary_dim() const {
  if (summary_) return summary_->output_dim();
  return has_fusion() ? fusion_->output_dim() : 0;
}

int64_t PosteriorEstimatorImpl::rows(const DataBatch& d) {
  if (d.x.defined()) return d.x.size(0);
  TORCH_CHECK(!d.sources.empty() && d.sources.front().x.defined(), "the data batch holds no data");
  return d.sources.front().x.size(0);
}

void PosteriorEstimatorImpl::check_data(const DataBatch& d) const {
  if (has_fusion()) {
    TORCH_CHECK(static_cast<int64_t>(d.sources.size()) == fusion_->size(), "the data have ", d.sources.size(),
                " sources, the fusion network takes ", fusion_->size());
    const int64_t b = rows(d);
    for (int64_t k = 0; k < fusion_->size(); ++k) {
      const std::string what = "source " + fusion_->names()[k];
      check_shape(d.sources[k].x, what + " x", {b, -1, fusion_->net(k).input_dim()});
      if (d.sources[k].lengths.defined()) check_shape(d.sources[k].lengths, what + " lengths", {b});
    }
    if (dim_x() > 0 || (d.x.defined() && d.x.numel() > 0)) check_shape(d.x, "x (the flat values)", {b, dim_x()});
  } else {
    TORCH_CHECK(d.sources.empty(), "data sources need a fusion network");
    if (summary_) {
      check_shape(d.x, "x", {-1, -1, dim_x()});
      if (d.lengths.defined()) check_shape(d.lengths, "lengths", {d.x.size(0)});
    } else {
      check_shape(d.x, "x", {-1, dim_x()});
    }
  }
  if (options_.dim_context() > 0) {
    check_shape(d.context, "context", {rows(d), options_.dim_context()});
  } else {
    TORCH_CHECK(!d.context.defined() || d.context.size(1) == 0, "this estimator takes no context variables");
  }
}

Tensor PosteriorEstimatorImpl::canonical(const Tensor& x) const {
  const auto& set = options_.set_shape();
  if (set.empty()) return x;
  return set_features(x, set, options_.set_features());
}

Tensor PosteriorEstimatorImpl::set_features(const Tensor& x, const std::vector<int64_t>& set_shape,
                                            int64_t features) {
  TORCH_CHECK(set_shape.size() == 2 && x.dim() == 2 && x.size(1) == set_shape[0] * set_shape[1],
              "set_features needs x [batch, n_obs * dim] and set_shape {n_obs, dim}");
  TORCH_CHECK(features == 1 || features == 2, "set_features must be 1 or 2, not ", features);
  const int64_t b = x.size(0), n = set_shape[0], d = set_shape[1];
  Tensor points = x.reshape({b, n, d});
  Tensor order = std::get<1>(points.select(2, 0).sort(1));  // [b, n]
  Tensor sorted = points.gather(1, order.unsqueeze(2).expand({b, n, d})).reshape({b, n * d});
  Tensor mean = points.mean(1);
  std::vector<Tensor> parts = {sorted, mean};
  if (features == 1) {  // the mean of x_i x_j for i <= j
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = i; j < d; ++j) parts.push_back((points.select(2, i) * points.select(2, j)).mean(1, true));
    return torch::cat(parts, 1);
  }
  // Scales spread over orders of magnitude (a variance of 1e-4 and one of
  // 10 are equally informative), so they enter as logs; dependence as
  // correlations, free of the scales. A set without spread gets a floor
  // relative to its size (10^-5 of its root mean square) rather than -inf.
  Tensor centred = points - mean.unsqueeze(1);
  Tensor floor = points.pow(2).mean({1, 2}).unsqueeze(1) * 1e-10 + 1e-30;  // [b, 1]
  Tensor var = centred.pow(2).mean(1) + floor;                             // [b, d]
  parts.push_back(0.5 * var.log());
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = i + 1; j < d; ++j)
      parts.push_back((centred.select(2, i) * centred.select(2, j)).mean(1, true) /
                      (var.select(1, i) * var.select(1, j)).sqrt().unsqueeze(1));
  return torch::cat(parts, 1);
}

Tensor PosteriorEstimatorImpl::symmetric_index(const torch::Device& device) const {
  return torch::tensor(options_.symmetric(), torch::kLong).to(device);
}

Tensor PosteriorEstimatorImpl::rotate(const Tensor& theta) const {
  if (!rotation_.defined()) return theta;
  return theta.mm(rotation_.t().to(theta.device(), theta.scalar_type()));
}

Tensor PosteriorEstimatorImpl::unrotate(const Tensor& rotated) const {
  if (!rotation_.defined()) return rotated;
  return rotated.mm(rotation_.to(rotated.device(), rotated.scalar_type()));
}

Tensor PosteriorEstimatorImpl::fold(const Tensor& theta) const {
  if (options_.symmetric().empty()) return theta;
  Tensor idx = symmetric_index(theta.device());
  const double tiny = theta.scalar_type() == torch::kDouble ? std::numeric_limits<double>::min()
                                                            : std::numeric_limits<float>::min();
  return theta.index_copy(1, idx, theta.index_select(1, idx).abs().clamp_min(tiny));
}

namespace {

// The valid points of every data set of x [batch, n, d], pooled: [m, d].
Tensor valid_points(const Tensor& x, const Tensor& lengths) {
  Tensor points = x.reshape({-1, x.size(2)});
  if (!lengths.defined()) return points;
  Tensor steps = torch::arange(x.size(1), lengths.options()).unsqueeze(0);
  return points.index({(steps < lengths.unsqueeze(1)).reshape({-1})});
}

// x without the padding that no data set of the batch needs, the rest of it
// zeroed (padding may hold NaN).
Tensor trim_padding(const Tensor& x, const Tensor& lengths) {
  if (!lengths.defined()) return x;
  Tensor out = x;
  const int64_t longest = lengths.max().item<int64_t>();
  if (longest < out.size(1)) out = out.narrow(1, 0, longest);
  Tensor valid = torch::arange(out.size(1), lengths.options()).unsqueeze(0) < lengths.unsqueeze(1);
  return torch::where(valid.unsqueeze(2), out, torch::zeros({}, out.options()));
}

// sqrt(length) of one source [batch, 1] (all n valid when lengths are undefined).
Tensor sqrt_length(const Tensor& x, const Tensor& lengths, const Tensor& like) {
  Tensor len = lengths.defined() ? lengths.to(like.scalar_type())
                                 : torch::full({x.size(0)}, static_cast<double>(x.size(1)), like.options());
  return torch::sqrt(len).unsqueeze(1);
}

}  // namespace

// [batch, n_extra]: sqrt(length) of each source (when lengths vary), then
// the context.
Tensor PosteriorEstimatorImpl::raw_extra(const DataBatch& d) const {
  std::vector<Tensor> parts;
  const Tensor& like = has_fusion() ? d.sources.front().x : d.x;
  if (options_.variable_length()) {
    if (has_fusion()) {
      for (const auto& s : d.sources) parts.push_back(sqrt_length(s.x, s.lengths, like));
    } else {
      parts.push_back(sqrt_length(d.x, d.lengths, like));
    }
  }
  if (d.context.defined() && d.context.size(1) > 0) parts.push_back(d.context.to(like.scalar_type()));
  return torch::cat(parts, 1);
}

Tensor PosteriorEstimatorImpl::extra_context(const DataBatch& d) const { return extra_std_->apply(raw_extra(d)); }

void PosteriorEstimatorImpl::fit_standardization(const Tensor& theta_in, const DataBatch& d_in) {
  check_data(d_in);
  check_shape(theta_in, "theta", {rows(d_in), dim_theta()});
  torch::NoGradGuard no_grad;
  // with a group: row i transformed by element i mod G, so that the
  // standardization is (close to) invariant
  auto [theta, d] = transform(theta_in, d_in, torch::arange(rows(d_in), torch::kLong).remainder(group_size()));
  const Tensor folded = fold(rotate(theta));
  const Tensor unbounded = bounds_ ? bounds_->forward(folded, Tensor()).first : folded;
  if (options_.standardize_theta()) theta_std_->fit(unbounded);
  if (options_.standardize_x()) {
    for (size_t k = 0; k < source_std_.size(); ++k) {
      source_std_[k]->fit(valid_points(d.sources[k].x, d.sources[k].lengths));
    }
    if (x_std_) x_std_->fit(summary_ ? valid_points(d.x, d.lengths) : canonical(d.x));
  }
  if (extra_std_) extra_std_->fit(raw_extra(d));
  if (residual_) residual_->fit(theta_std_->apply(unbounded), condition(d));
}

Tensor PosteriorEstimatorImpl::condition(const DataBatch& d) {
  check_data(d);
  std::vector<Tensor> parts;
  if (has_fusion()) {
    std::vector<DataSource> sources;
    for (size_t k = 0; k < source_std_.size(); ++k) {
      const auto& s = d.sources[k];
      sources.push_back({source_std_[k]->apply(trim_padding(s.x, s.lengths)), s.lengths});
    }
    parts.push_back(fusion_->forward(sources));
    if (x_std_) parts.push_back(x_std_->apply(d.x));
  } else if (summary_) {
    parts.push_back(summary_->forward(x_std_->apply(trim_padding(d.x, d.lengths)), d.lengths));
  } else {
    parts.push_back(x_std_->apply(canonical(d.x)));
  }
  if (n_extra_ > 0) parts.push_back(extra_context(d));
  return parts.size() == 1 ? parts.front() : torch::cat(parts, 1);
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
  if (!is_training() || group_size() == 1) return loss_of(theta, d);
  auto [t, a] = transform(theta, d, torch::randint(0, group_size(), {rows(d)}, augment_gen_, torch::kLong));
  return loss_of(t, a);
}

Tensor PosteriorEstimatorImpl::loss_of(const Tensor& theta, const DataBatch& d) {
  check_shape(theta, "theta", {rows(d), dim_theta()});
  Tensor cond = condition(d);
  return net_->loss(to_net(fold(rotate(theta)), cond).first, cond);
}

namespace {

// Every row of the data `times` times, block after block.
DataBatch repeat_rows(const DataBatch& d, int64_t times) {
  auto rep = [times](const Tensor& t) {
    if (!t.defined()) return t;
    std::vector<int64_t> r(t.dim(), 1);
    r[0] = times;
    return t.repeat(r);
  };
  DataBatch out = d;
  out.x = rep(d.x);
  out.lengths = rep(d.lengths);
  out.context = rep(d.context);
  return out;
}

}  // namespace

Tensor PosteriorEstimatorImpl::untransform_theta(const Tensor& theta, const Tensor& elements) const {
  const Tensor e = elements.to(torch::kCPU, torch::kLong);
  Tensor idx = group_theta_index_.index_select(0, e).to(theta.device());
  Tensor sign = group_theta_sign_.index_select(0, e).to(theta.device(), theta.scalar_type());
  return torch::zeros_like(theta).scatter(1, idx, theta * sign);  // signs are +-1: their own inverses
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
  check_data(d);
  const int64_t g_n = group_size(), b = rows(d), m = (n + g_n - 1) / g_n, k = dim_theta();
  Tensor elements = torch::arange(g_n, torch::kLong).repeat_interleave(b);
  DataBatch dg = transform_data(repeat_rows(d, g_n), elements);
  Tensor draws = sample_of(m, dg, gen);  // [G b, m, k]
  draws = untransform_theta(draws.reshape({-1, k}), elements.repeat_interleave(m)).view({g_n, b, m, k});
  draws = draws.permute({1, 0, 2, 3}).reshape({b, g_n * m, k});
  Tensor order = torch::rand({b, g_n * m}, gen, torch::kDouble).argsort(/*dim=*/int64_t{1}).narrow(1, 0, n).to(draws.device());
  return draws.gather(1, order.unsqueeze(2).expand({b, n, k}));
}

Tensor PosteriorEstimatorImpl::log_prob_of(const Tensor& theta_in, const DataBatch& d) {
  check_shape(theta_in, "theta", {rows(d), dim_theta()});
  Tensor cond = condition(d);
  // a symmetric parameter's density is half that of its absolute value
  const Tensor theta = fold(rotate(theta_in));
  const double log_half = -std::log(2.0) * static_cast<double>(options_.symmetric().size());
  const double minus_inf = -std::numeric_limits<double>::infinity();
  Tensor lp;
  if (!bounds_) {
    auto [z, logdet] = to_net(theta, cond);
    lp = net_->log_prob(z, cond) + logdet + log_half;
  } else {
    // outside the bounds the density is zero; evaluate the net at safe values there
    Tensor inside = bounds_->inside(theta);
    Tensor safe =
        torch::where(inside.unsqueeze(1), theta, bounds_->inverse(torch::zeros_like(theta), Tensor()).first);
    auto [z, logdet] = to_net(safe, cond);
    lp = net_->log_prob(z, cond) + logdet + log_half;
    lp = torch::where(inside, lp, torch::full_like(lp, minus_inf));
  }
  if (!support_) return lp;
  lp = lp - log_support_mass_of(cond.detach()).to(lp.scalar_type());
  return torch::where(support_->inside(theta_in).to(lp.device()), lp, torch::full_like(lp, minus_inf));
}

Tensor PosteriorEstimatorImpl::log_support_mass(const DataBatch& d) {
  Tensor cond = condition(d);
  if (!support_) return torch::zeros({cond.size(0)}, cond.options());
  return log_support_mass_of(cond);
}

Tensor PosteriorEstimatorImpl::log_support_mass_of(const Tensor& cond) {
  torch::NoGradGuard no_grad;
  // one estimate per distinct data set (log_prob often evaluates many theta
  // for one data set), from a fixed stream
  auto [unique, inverse, counts] = torch::unique_dim(cond, 0, /*sorted=*/true, /*return_inverse=*/true);
  at::Generator gen = make_generator(20261124);
  const int64_t m = options_.truncation_draws();
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 20) / m);
  std::vector<Tensor> mass;
  for (int64_t start = 0; start < unique.size(0); start += chunk) {
    Tensor c = unique.narrow(0, start, std::min(chunk, unique.size(0) - start));
    Tensor draws = draw(m, c, gen);
    Tensor inside = support_->inside(draws.reshape({-1, dim_theta()})).reshape({c.size(0), m});
    // (count + 1) / (m + 2): never log(0) when no draw falls inside
    mass.push_back((inside.sum(1).to(torch::kDouble) + 1.0) / static_cast<double>(m + 2));
  }
  return torch::cat(mass).log().index_select(0, inverse.to(torch::kLong)).to(cond.scalar_type());
}
Tensor PosteriorEstimatorImpl::sample_of(int64_t n, const DataBatch& d, at::Generator& gen) {
  Tensor cond = condition(d);
  return support_ ? draw_truncated(n, cond, gen) : draw(n, cond, gen);
}

Tensor PosteriorEstimatorImpl::draw(int64_t n, const Tensor& cond, at::Generator& gen) {
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
  if (!options_.symmetric().empty()) {  // fair random signs, drawn on the CPU like the flow's noise
    const int64_t k = static_cast<int64_t>(options_.symmetric().size());
    Tensor idx = symmetric_index(flat.device());
    Tensor signs = torch::randint(0, 2, {flat.size(0), k}, gen, torch::TensorOptions().dtype(flat.scalar_type()))
                       .mul_(2)
                       .sub_(1)
                       .to(flat.device());
    flat = flat.index_copy(1, idx, flat.index_select(1, idx) * signs);
  }
  return unrotate(flat).reshape({batch, n, dim_theta()});
}

// Rejection: rounds of draws for the data sets that still need some, each
// sized by that data set's shortfall over its acceptance so far and drawn
// in blocks of q (a data set's condition repeated once per block);
// accepted draws keep their order.
Tensor PosteriorEstimatorImpl::draw_truncated(int64_t n, const Tensor& cond, at::Generator& gen) {
  const int64_t batch = cond.size(0), dim = dim_theta();
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

std::vector<std::string> PosteriorEstimatorImpl::describe() const {
  std::vector<std::string> out;
  if (bounds_) out.push_back(bounds_->describe());
  if (support_) {
    int64_t k = 0;
    for (size_t i = 0; i < options_.truncate_lower().size(); ++i) {
      k += std::isfinite(options_.truncate_lower()[i]) || std::isfinite(options_.truncate_upper()[i]);
    }
    out.push_back("truncated by rejection to the bounds of " + std::to_string(k) + " parameter" + (k == 1 ? "" : "s"));
  }
  if (summary_) {
    for (auto& line : summary_->describe()) out.push_back(line);
  }
  if (has_fusion()) {
    for (auto& line : fusion_->describe()) out.push_back(line);
  }
  for (auto& line : net_->describe()) out.push_back(line);
  return out;
}

}  // namespace amortized
