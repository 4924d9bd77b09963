#include "amortized/summary/time_series.h"

#include "amortized/nn/mlp.h"

#include <cmath>
#include <sstream>

namespace amortized {

Tensor last_valid(const Tensor& h, const Tensor& lengths) {
  if (!lengths.defined()) return h.select(1, h.size(1) - 1);
  Tensor idx = (lengths - 1).view({-1, 1, 1}).expand({h.size(0), 1, h.size(2)});
  return h.gather(1, idx).squeeze(1);
}

TimeSeriesNetImpl::TimeSeriesNetImpl(const TimeSeriesNetOptions& o)
    : SummaryNetImpl(o.input_dim(), o.output_dim()), options(o), activation_(o.activation()) {
  TORCH_CHECK(o.kernel_size() >= 1 && o.kernel_size() % 2 == 1, "time series kernel_size must be odd, got ",
              o.kernel_size());
  TORCH_CHECK(o.hidden() >= 1, "time series hidden must be >= 1, got ", o.hidden());
  TORCH_CHECK(o.cell() == "gru" || o.cell() == "lstm", "time series cell must be \"gru\" or \"lstm\", got \"",
              o.cell(), "\"");
  check_activation(o.activation());
  TORCH_CHECK(o.strides().empty() || o.strides().size() == o.filters().size(),
              "time series strides need one stride per convolution (", o.filters().size(), "), got ",
              o.strides().size());
  convs_ = register_module("convs", torch::nn::ModuleList());
  int64_t channels = o.input_dim();
  for (size_t i = 0; i < o.filters().size(); ++i) {
    const int64_t f = o.filters()[i], stride = o.strides().empty() ? 1 : o.strides()[i];
    TORCH_CHECK(f >= 1, "time series filters must be >= 1, got ", f);
    TORCH_CHECK(stride >= 1, "time series strides must be >= 1, got ", stride);
    convs_->push_back(torch::nn::Conv1d(
        torch::nn::Conv1dOptions(channels, f, o.kernel_size()).padding(o.kernel_size() / 2).stride(stride)));
    channels = f;
  }
  if (o.cell() == "gru") {
    gru_ = register_module("gru", torch::nn::GRU(torch::nn::GRUOptions(channels, o.hidden()).batch_first(true)));
  } else {
    lstm_ = register_module("lstm",
                            torch::nn::LSTM(torch::nn::LSTMOptions(channels, o.hidden()).batch_first(true)));
  }
  TORCH_CHECK(o.moment_lags() >= -1, "time series moment_lags must be >= -1, got ", o.moment_lags());
  const int64_t moments = o.moment_lags() >= 0 ? moment_count(o.input_dim(), o.moment_lags()) : 0;
  head_ = register_module("head", torch::nn::Linear(2 * o.hidden() + moments, o.output_dim()));
}

namespace {
// The mask of the first ceil(lengths / stride) of n steps (all when lengths
// is undefined).
Tensor strided_mask(const Tensor& lengths, int64_t n, const Tensor& like) {
  if (!lengths.defined()) return torch::ones({like.size(0), n}, like.options());
  return (torch::arange(n, lengths.options()).unsqueeze(0) < lengths.unsqueeze(1)).to(like.scalar_type());
}
}  // namespace

Tensor TimeSeriesNetImpl::forward(const Tensor& x, const Tensor& lengths) {
  Tensor mask = valid_mask(x, lengths);
  Tensor moments = options.moment_lags() >= 0 ? pooled_moments(x, mask, options.moment_lags()) : Tensor();
  Tensor len = lengths;
  Tensor h = x.transpose(1, 2) * mask.unsqueeze(1);  // [b, channels, n], padding zeroed
  for (size_t i = 0; i < convs_->size(); ++i) {
    const int64_t stride = options.strides().empty() ? 1 : options.strides()[i];
    h = activate(convs_[i]->as<torch::nn::Conv1d>()->forward(h), activation_);
    if (len.defined() && stride > 1) len = torch::div(len + (stride - 1), stride, "floor");
    mask = strided_mask(len, h.size(2), h);
    h = h * mask.unsqueeze(1);
  }
  h = h.transpose(1, 2);  // [b, steps, channels]
  Tensor out = gru_ ? std::get<0>(gru_->forward(h)) : std::get<0>(lstm_->forward(h));  // [b, steps, hidden]
  std::vector<Tensor> pooled = {last_valid(out, len), masked_mean(out, mask)};
  if (moments.defined()) pooled.push_back(moments);
  return head_->forward(torch::cat(pooled, 1));
}

void TimeSeriesNetImpl::reset_parameters(at::Generator& gen) {
  init_parameters(*this, gen);
  // The recurrent weights as PyTorch draws them: U(-1/sqrt(hidden), ...).
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(options.hidden()));
  for (auto& p : (gru_ ? gru_->parameters() : lstm_->parameters())) p.uniform_(-bound, bound, gen);
}

std::vector<std::string> TimeSeriesNetImpl::describe() const {
  std::ostringstream s;
  s << "time series net (" << input_dim() << " per step -> " << output_dim() << " summaries; ";
  if (!options.filters().empty()) {
    s << options.filters().size() << " convolutions of " << options.filters().back() << " filters (kernel "
      << options.kernel_size() << "), ";
  }
  s << (options.cell() == "gru" ? "GRU" : "LSTM") << " " << options.hidden();
  if (options.moment_lags() >= 0) s << ", moments to lag " << options.moment_lags();
  s << ")";
  return {s.str()};
}

TimeSeriesTransformerImpl::TimeSeriesTransformerImpl(const TimeSeriesTransformerOptions& o)
    : SummaryNetImpl(o.input_dim(), o.output_dim()), options(o) {
  TORCH_CHECK(o.blocks() >= 1, "time series transformer blocks must be >= 1, got ", o.blocks());
  TORCH_CHECK(o.time_frequencies() >= 1, "time_frequencies must be >= 1, got ", o.time_frequencies());
  TORCH_CHECK(o.patch_size() >= 1, "patch_size must be >= 1, got ", o.patch_size());
  embed_ = register_module(
      "embed", torch::nn::Linear(o.patch_size() * o.input_dim() + 2 * o.time_frequencies(), o.width()));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.blocks(); ++i) blocks_->push_back(AttentionBlock(o.width(), o.heads()));
  head_ = register_module("head", torch::nn::Linear(2 * o.width(), o.output_dim()));
}

Tensor TimeSeriesTransformerImpl::forward(const Tensor& x_in, const Tensor& lengths_in) {
  Tensor mask = valid_mask(x_in, lengths_in);
  const int64_t p = options.patch_size(), k = options.time_frequencies();
  // patches of p steps, padding zeroed: [b, ceil(n / p), p * dim]
  Tensor x = x_in * mask.unsqueeze(2), lengths = lengths_in;
  if (p > 1) {
    const int64_t n_in = x.size(1), tokens = (n_in + p - 1) / p;
    if (tokens * p > n_in) x = torch::constant_pad_nd(x, {0, 0, 0, tokens * p - n_in});
    x = x.reshape({x.size(0), tokens, p * x.size(2)});
    if (lengths.defined()) lengths = torch::div(lengths + (p - 1), p, "floor");
    mask = strided_mask(lengths, tokens, x);
  }
  const int64_t b = x.size(0), n = x.size(1);
  // sin/cos of the step index (of a token's first step) at frequencies with
  // periods from 2 to ~1000 steps
  Tensor t = (torch::arange(n, x.options()) * static_cast<double>(p)).unsqueeze(1);  // [n, 1]
  Tensor freq = torch::exp(torch::linspace(std::log(2 * M_PI / 2.0), std::log(2 * M_PI / 1000.0), k,
                                           x.options()))
                    .unsqueeze(0);                                                // [1, k]
  Tensor enc = torch::cat({torch::sin(t * freq), torch::cos(t * freq)}, 1);      // [n, 2k]
  Tensor h = embed_->forward(torch::cat({x, enc.unsqueeze(0).expand({b, n, 2 * k})}, 2));
  for (const auto& block : *blocks_) h = block->as<AttentionBlock>()->forward(h, h, mask);
  return head_->forward(torch::cat({masked_mean(h, mask), last_valid(h, lengths)}, 1));
}

std::vector<std::string> TimeSeriesTransformerImpl::describe() const {
  std::ostringstream s;
  s << "time series transformer (" << input_dim() << " per step -> " << output_dim() << " summaries; width "
    << options.width() << ", " << options.heads() << " heads, " << options.blocks()
    << " blocks, " << (options.patch_size() > 1 ? "patches of " + std::to_string(options.patch_size()) + " steps, " : "")
    << "sinusoidal time encoding)";
  return {s.str()};
}

}  // namespace amortized
