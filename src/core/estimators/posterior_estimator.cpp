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
  TORCH_CHECK(!embedding_->has_fusion(), "equivariances do not work with a fusion network");
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
  embedding_->check(d);
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

void PosteriorEstimatorImpl::fit_standardization(const Tensor& theta_in, const DataBatch& d_in) {
  embedding_->check(d_in);
  check_shape(theta_in, "theta", {rows(d_in), dim_theta()});
  torch::NoGradGuard no_grad;
  // with a group: row i transformed by element i mod G, so that the
  // standardization is (close to) invariant
  auto [theta, d] = transform(theta_in, d_in, torch::arange(rows(d_in), torch::kLong).remainder(group_size()));
  const Tensor folded = fold(rotate(theta));
  const Tensor unbounded = bounds_ ? bounds_->forward(folded, Tensor()).first : folded;
  if (options_.standardize_theta()) theta_std_->fit(unbounded);
  embedding_->fit(d);
  if (residual_) residual_->fit(theta_std_->apply(unbounded), condition(d));
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
  embedding_->check(d);
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
  for (auto& line : embedding_->describe()) out.push_back(line);
  for (auto& line : net_->describe()) out.push_back(line);
  return out;
}

}  // namespace amortized
