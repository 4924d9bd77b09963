// The data embedding (amortized/embedding/condition_net.h) and the row
// operations of a DataBatch.
#include "amortized/embedding/condition_net.h"

#include "amortized/diagnostics/mmd.h"

#include <algorithm>
#include <cmath>

namespace amortized {

int64_t rows(const DataBatch& d) {
  if (d.x.defined()) return d.x.size(0);
  TORCH_CHECK(!d.sources.empty() && d.sources.front().x.defined(), "the data batch holds no data");
  return d.sources.front().x.size(0);
}

DataBatch narrow(const DataBatch& b, int64_t start, int64_t len) {
  return map_batch(b, [&](const Tensor& t) { return t.narrow(0, start, len); });
}

namespace {
Tensor trimmed(const Tensor& x, const Tensor& lengths) {
  if (!x.defined() || !lengths.defined() || x.dim() != 3 || lengths.numel() == 0) return x;
  const int64_t longest = lengths.max().item<int64_t>();
  return longest >= 1 && longest < x.size(1) ? x.narrow(1, 0, longest) : x;
}
}  // namespace

DataBatch trim_padding(const DataBatch& b) {
  DataBatch out{trimmed(b.x, b.lengths), b.lengths, b.context};
  for (const auto& s : b.sources) out.sources.push_back({trimmed(s.x, s.lengths), s.lengths});
  return out;
}

DataBatch index_rows(const DataBatch& b, const Tensor& idx) {
  return map_batch(b, [&](const Tensor& t) { return t.index_select(0, idx.to(t.device())); });
}

DataBatch repeat_rows(const DataBatch& b, int64_t times) {
  return map_batch(b, [times](const Tensor& t) {
    std::vector<int64_t> r(t.dim(), 1);
    r[0] = times;
    return t.repeat(r);
  });
}

DataBatch to_device(const DataBatch& b, torch::Device device) {
  return map_batch(b, [&](const Tensor& t) { return t.to(device); });
}

ConditionNetImpl::ConditionNetImpl(const ConditionNetOptions& options, std::shared_ptr<SummaryNetImpl> summary)
    : options_(options), summary_(std::move(summary)) {
  init();
}

ConditionNetImpl::ConditionNetImpl(const ConditionNetOptions& options, FusionNet fusion)
    : options_(options), fusion_(std::move(fusion)) {
  TORCH_CHECK(!fusion_.is_empty(), "the fusion network is missing");
  init();
}

// Checks the options against the networks and registers every module.
void ConditionNetImpl::init() {
  const auto& o = options_;
  const auto& set = o.set_shape();
  const bool fused = has_fusion();
  TORCH_CHECK(o.dim_x() >= (fused ? 0 : 1), "the data embedding needs dim_x >= ", fused ? 0 : 1, ", got ", o.dim_x());
  TORCH_CHECK(o.dim_context() >= 0, "dim_context must be >= 0, got ", o.dim_context());
  TORCH_CHECK(set.empty() || (set.size() == 2 && set[0] >= 1 && set[1] >= 1 && set[0] * set[1] == o.dim_x()),
              "set_shape must be {n_obs, dim} with n_obs * dim equal to the ", o.dim_x(), " data values");
  TORCH_CHECK(o.set_features() == 1 || o.set_features() == 2, "set_features must be 1 or 2, not ", o.set_features());
  if (summary_ || fused) {
    TORCH_CHECK(set.empty(), "set_shape is for flat data; with a summary network the data are [batch, n, dim_x]");
  } else {
    TORCH_CHECK(!o.variable_length(), "variable_length needs a summary network");
  }
  if (summary_) {
    TORCH_CHECK(summary_->input_dim() == o.dim_x(), "the summary network takes ", summary_->input_dim(),
                " variables per point, the data have ", o.dim_x());
    register_module("summary", summary_);
  }
  if (fused) {
    register_module("fusion", fusion_);
    for (int64_t k = 0; k < fusion_->size(); ++k) {
      source_std_.push_back(register_module("source_standardize_" + std::to_string(k),
                                            Standardize(fusion_->net(k).input_dim())));
    }
  }
  if (o.dim_x() > 0) x_std_ = register_module("x_standardize", Standardize(summary_ ? o.dim_x() : flat_width(o.dim_x(), set)));
  n_extra_ = (o.variable_length() ? (fused ? fusion_->size() : 1) : 0) + o.dim_context();
  if (n_extra_ > 0) extra_std_ = register_module("extra_standardize", Standardize(n_extra_));
}

int64_t ConditionNetImpl::flat_width(int64_t dim_x, const std::vector<int64_t>& set_shape) {
  if (set_shape.size() != 2) return dim_x;
  const int64_t d = set_shape[1];
  return dim_x + d + d * (d + 1) / 2;
}

int64_t ConditionNetImpl::summary_dim() const {
  if (summary_) return summary_->output_dim();
  return has_fusion() ? fusion_->output_dim() : 0;
}

int64_t ConditionNetImpl::data_dim() const {
  if (has_fusion()) return fusion_->output_dim() + options_.dim_x();  // the summaries and the flat values
  if (summary_) return summary_->output_dim();
  return flat_width(options_.dim_x(), options_.set_shape());
}

int64_t ConditionNetImpl::output_dim() const { return data_dim() + n_extra_; }

void ConditionNetImpl::check(const DataBatch& d) const {
  if (has_fusion()) {
    TORCH_CHECK(static_cast<int64_t>(d.sources.size()) == fusion_->size(), "the data have ", d.sources.size(),
                " sources, the fusion network takes ", fusion_->size());
    const int64_t b = rows(d);
    for (int64_t k = 0; k < fusion_->size(); ++k) {
      const std::string what = "source " + fusion_->names()[k];
      check_shape(d.sources[k].x, what + " x", {b, -1, fusion_->net(k).input_dim()});
      if (d.sources[k].lengths.defined()) check_shape(d.sources[k].lengths, what + " lengths", {b});
    }
    const int64_t dim_x = options_.dim_x();
    if (dim_x > 0 || (d.x.defined() && d.x.numel() > 0)) check_shape(d.x, "x (the flat values)", {b, dim_x});
  } else {
    TORCH_CHECK(d.sources.empty(), "data sources need a fusion network");
    if (summary_) {
      check_shape(d.x, "x", {-1, -1, options_.dim_x()});
      if (d.lengths.defined()) check_shape(d.lengths, "lengths", {d.x.size(0)});
    } else {
      check_shape(d.x, "x", {-1, options_.dim_x()});
    }
  }
  if (options_.dim_context() > 0) {
    check_shape(d.context, "context", {rows(d), options_.dim_context()});
  } else {
    TORCH_CHECK(!d.context.defined() || d.context.size(1) == 0, "this estimator takes no context variables");
  }
}

Tensor ConditionNetImpl::canonical(const Tensor& x) const {
  const auto& set = options_.set_shape();
  if (set.empty()) return x;
  return set_features(x, set, options_.set_features());
}

Tensor ConditionNetImpl::set_features(const Tensor& x, const std::vector<int64_t>& set_shape, int64_t features) {
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

namespace {

// Which of n positions hold points: [batch, n] bool, position < length.
Tensor valid_positions(int64_t n, const Tensor& lengths) {
  return torch::arange(n, lengths.options()).unsqueeze(0) < lengths.unsqueeze(1);
}

// The valid points of every data set of x [batch, n, d], pooled: [m, d].
Tensor valid_points(const Tensor& x, const Tensor& lengths) {
  Tensor points = x.reshape({-1, x.size(2)});
  if (!lengths.defined()) return points;
  return points.index({valid_positions(x.size(1), lengths).reshape({-1})});
}

// x without the padding that no data set of the batch needs, the rest of it
// zeroed (padding may hold NaN).
Tensor trim_padding(const Tensor& x, const Tensor& lengths) {
  if (!lengths.defined()) return x;
  Tensor out = x;
  const int64_t longest = lengths.max().item<int64_t>();
  if (longest < out.size(1)) out = out.narrow(1, 0, longest);
  return torch::where(valid_positions(out.size(1), lengths).unsqueeze(2), out, torch::zeros({}, out.options()));
}

// sqrt(length) of one source [batch, 1] (all n valid when lengths are undefined).
Tensor sqrt_length(const Tensor& x, const Tensor& lengths, const Tensor& like) {
  Tensor len = lengths.defined() ? lengths.to(like.scalar_type())
                                 : torch::full({x.size(0)}, static_cast<double>(x.size(1)), like.options());
  return torch::sqrt(len).unsqueeze(1);
}

}  // namespace

Tensor ConditionNetImpl::raw_extra(const DataBatch& d) const {
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

void ConditionNetImpl::fit(const DataBatch& d) {
  check(d);
  torch::NoGradGuard no_grad;
  if (options_.standardize()) {
    for (size_t k = 0; k < source_std_.size(); ++k) {
      source_std_[k]->fit(valid_points(d.sources[k].x, d.sources[k].lengths));
    }
    if (x_std_) x_std_->fit(summary_ ? valid_points(d.x, d.lengths) : canonical(d.x));
  }
  if (extra_std_) extra_std_->fit(raw_extra(d));
}

Tensor ConditionNetImpl::forward(const DataBatch& d) {
  check(d);
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
  if (n_extra_ > 0) parts.push_back(extra_std_->apply(raw_extra(d)));
  return parts.size() == 1 ? parts.front() : torch::cat(parts, 1);
}

void ConditionNetImpl::set_summary_penalty(double weight, uint64_t seed) {
  TORCH_CHECK(std::isfinite(weight) && weight >= 0, "the summary penalty's weight must be >= 0, got ", weight);
  TORCH_CHECK(weight == 0 || summary_dim() > 0, "a summary penalty needs a summary network");
  penalty_weight_ = weight;
  penalty_gen_ = make_generator(seed);
}

Tensor ConditionNetImpl::summary_penalty(const Tensor& condition) {
  if (penalty_weight_ == 0 || !is_training() || condition.size(0) < 2) return torch::zeros({}, condition.options());
  const int64_t k = summary_dim();
  Tensor s = condition.narrow(1, 0, k);
  Tensor z = torch::randn({s.size(0), k}, penalty_gen_, torch::TensorOptions().dtype(s.scalar_type())).to(s.device());
  // |z - z'| of standard normals is about sqrt(2 k): bandwidths around it
  const double h = std::sqrt(static_cast<double>(k));
  const MmdKernel kernel{MmdKernel::Kind::Gaussian, {0.25 * h, 0.5 * h, h, 2 * h, 4 * h}};
  return penalty_weight_ * mmd2(s, z, kernel);
}

void ConditionNetImpl::set_subsets(int64_t min_length, int64_t length_context, uint64_t seed, bool prefixes) {
  TORCH_CHECK(min_length >= 0, "the subsets' minimum length must be >= 0, got ", min_length);
  TORCH_CHECK(min_length == 0 || summary_, "subsets need a summary network over one source of sets or series");
  TORCH_CHECK(length_context >= -1 && length_context < options_.dim_context(), "the length's context column ",
              length_context, " is not one of the ", options_.dim_context(), " context columns");
  subsets_min_ = min_length;
  subsets_context_ = length_context;
  subsets_prefixes_ = prefixes;
  subsets_gen_ = make_generator(seed);
}

DataBatch ConditionNetImpl::augment(const DataBatch& d) {
  if (subsets_min_ == 0 || !is_training()) return d;
  check(d);
  const int64_t b = d.x.size(0), n = d.x.size(1);
  const torch::Device device = d.x.device();
  Tensor length = d.lengths.defined() ? d.lengths.to(torch::kCPU, torch::kLong) : torch::full({b}, n, torch::kLong);
  // sizes uniform on low .. length, low = min(min_length, length)
  Tensor low = length.clamp_max(subsets_min_);
  Tensor size = low + (torch::rand({b}, subsets_gen_, torch::kDouble) * (length - low + 1).to(torch::kDouble))
                          .floor()
                          .to(torch::kLong);
  size = torch::minimum(size, length);
  DataBatch out = d;
  if (!subsets_prefixes_) {
    // a random order of each set's valid points, padding last: its first `size` points are the subset
    Tensor keys = torch::rand({b, n}, subsets_gen_, torch::kDouble);
    keys = torch::where(valid_positions(n, length), keys, torch::full_like(keys, 2.0));
    Tensor order = keys.argsort(int64_t{1}).to(device);
    out.x = d.x.gather(1, order.unsqueeze(2).expand({b, n, d.x.size(2)}));
  }  // a prefix: the steps past `size` become padding, which the embedding zeroes
  out.lengths = size.to(device);
  if (subsets_context_ >= 0) {
    out.context = d.context.clone();
    out.context.select(1, subsets_context_).copy_(size);
  }
  return out;
}

std::vector<std::string> ConditionNetImpl::describe() const {
  if (summary_) return summary_->describe();
  if (has_fusion()) return fusion_->describe();
  return {};
}

}  // namespace amortized
