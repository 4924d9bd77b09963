// Summary networks for time series of varying length: a convolutional +
// recurrent network and a transformer with a time encoding.
#pragma once

#include "amortized/summary/attention.h"
#include "amortized/summary/summary_net.h"

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

namespace amortized {

struct TimeSeriesNetOptions {
  TimeSeriesNetOptions(int64_t input_dim, int64_t output_dim)
      : input_dim_(input_dim), output_dim_(output_dim) {}
  TORCH_ARG(int64_t, input_dim);
  TORCH_ARG(int64_t, output_dim);
  // Channels of each 1-d convolution (empty: no convolutions).
  TORCH_ARG(std::vector<int64_t>, filters) = std::vector<int64_t>{32, 32};
  // Odd kernel size of the convolutions ("same" padding).
  TORCH_ARG(int64_t, kernel_size) = 3;
  // Stride of each convolution (empty: all 1): a stride s shortens the
  // series to ceil(length / s) steps, so the recurrent layer runs on fewer.
  TORCH_ARG(std::vector<int64_t>, strides) = {};
  // Hidden width of the recurrent layer.
  TORCH_ARG(int64_t, hidden) = 64;
  // "gru" or "lstm".
  TORCH_ARG(std::string, cell) = "gru";
  TORCH_ARG(std::string, activation) = "silu";
  // Also hand the head the series' own moments over its valid steps
  // (pooled_moments(): means and products of the channels, raw and free of
  // the scale, and each channel's autocorrelations at lags
  // 1..moment_lags), what linear Gaussian (AR) likelihoods depend on.
  // -1: no moments at all (the net before they existed).
  TORCH_ARG(int64_t, moment_lags) = -1;
};

// Convolutions over time (padding is zeroed before each, so a series gives
// the same result padded or not; strides shorten the series), a recurrent layer read at each series'
// last valid step, together with the mean of its outputs over the valid
// steps (and the series' own moments, see moment_lags), and a linear map to
// the summaries.
class TimeSeriesNetImpl : public SummaryNetImpl {
 public:
  explicit TimeSeriesNetImpl(const TimeSeriesNetOptions& options);
  Tensor forward(const Tensor& x, const Tensor& lengths) override;
  void reset_parameters(at::Generator& gen) override;
  std::vector<std::string> describe() const override;
  TimeSeriesNetOptions options;

 private:
  torch::nn::ModuleList convs_{nullptr};
  torch::nn::GRU gru_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::Linear head_{nullptr};
  std::string activation_;
};
TORCH_MODULE(TimeSeriesNet);

struct TimeSeriesTransformerOptions {
  TimeSeriesTransformerOptions(int64_t input_dim, int64_t output_dim)
      : input_dim_(input_dim), output_dim_(output_dim) {}
  TORCH_ARG(int64_t, input_dim);
  TORCH_ARG(int64_t, output_dim);
  TORCH_ARG(int64_t, width) = 64;
  TORCH_ARG(int64_t, heads) = 4;
  TORCH_ARG(int64_t, blocks) = 2;
  // Frequencies of the sinusoidal encoding of the time index.
  TORCH_ARG(int64_t, time_frequencies) = 8;
  // Steps per token: the series is cut into patches of patch_size steps
  // (the last one zero-filled), each embedded as one token, so attention
  // runs over ceil(length / patch_size) tokens.
  TORCH_ARG(int64_t, patch_size) = 1;
};

// Steps embedded with a sinusoidal encoding of their index, self-attention
// blocks over the valid steps, then pooling by their mean and the last
// valid step.
class TimeSeriesTransformerImpl : public SummaryNetImpl {
 public:
  explicit TimeSeriesTransformerImpl(const TimeSeriesTransformerOptions& options);
  Tensor forward(const Tensor& x, const Tensor& lengths) override;
  std::vector<std::string> describe() const override;
  TimeSeriesTransformerOptions options;

 private:
  torch::nn::Linear embed_{nullptr}, head_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
};
TORCH_MODULE(TimeSeriesTransformer);

// The hidden state of a batch-first sequence output h: [batch, n, d] at
// each sequence's last valid step lengths - 1 (all n when undefined):
// [batch, d].
Tensor last_valid(const Tensor& h, const Tensor& lengths);

}  // namespace amortized
