// The training loop: AdamW, warm-up + cosine learning-rate schedule,
// gradient-norm clipping, validation split, early stopping that restores the
// best weights, skipping of non-finite batches, and hooks.
#pragma once

#include "amortized/common.h"

#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <functional>
#include <string>
#include <torch/arg.h>
#include <unordered_map>
#include <vector>

namespace amortized {

struct TrainOptions {
  // Maximum number of passes over the training split.
  TORCH_ARG(int64_t, epochs) = 100;
  TORCH_ARG(int64_t, batch_size) = 256;
  // Peak learning rate of AdamW.
  TORCH_ARG(double, learning_rate) = 5e-4;
  TORCH_ARG(double, weight_decay) = 1e-4;
  // Share of the data held out for validation (0 disables early stopping).
  TORCH_ARG(double, validation_fraction) = 0.1;
  // Maximum global gradient norm (<= 0: no clipping).
  TORCH_ARG(double, clip_grad_norm) = 5.0;
  // Stop after this many epochs without a better validation loss (0: never).
  TORCH_ARG(int64_t, patience) = 15;
  // When early stopping fires while the learning rate is still high: go on
  // from the best weights for this many epochs with the learning rate
  // decaying from its current value to 0 (cosine), keep the best validated
  // weights, then stop (0: stop at once). Not with "constant" schedules.
  TORCH_ARG(int64_t, anneal_epochs) = 0;
  // Share of all steps spent warming the learning rate up linearly.
  TORCH_ARG(double, warmup_fraction) = 0.02;
  // After the warm-up: "cosine" (decay to 0 over the remaining steps),
  // "constant", or "step" (multiply by step_gamma every step_epochs epochs).
  TORCH_ARG(std::string, schedule) = "cosine";
  TORCH_ARG(int64_t, step_epochs) = 30;
  TORCH_ARG(double, step_gamma) = 0.5;
  // Seeds the split and the batch order.
  TORCH_ARG(uint64_t, seed) = 0;
  // Stop when this many consecutive batches have a non-finite loss.
  TORCH_ARG(int64_t, max_nonfinite) = 20;
  // Exponential moving average of the weights (0: none): after each step
  // ema <- d ema + (1 - d) w with d = min(ema_decay, (1 + t) / (10 + t)) at
  // step t; validation, the best weights and the result use the averaged
  // weights, training goes on from the raw ones.
  TORCH_ARG(double, ema_decay) = 0.0;
  // Offline training: the index of a data tensor ([n], e.g. the lengths of
  // sets) whose values group the rows into batches (-1: none). Each epoch
  // the shuffled rows are sorted by it within windows of 32 batches and the
  // batches are visited in random order, so that a batch holds data sets of
  // similar size and little padding (trim it in the loss).
  TORCH_ARG(int64_t, bucket_by) = -1;
};

struct EpochRecord {
  int64_t epoch;
  double train_loss, validation_loss, learning_rate, seconds;
};

// Autograd as training needs it, whatever mode the thread was left in:
// inference mode off and gradients on, for the guard's scope. fit() and
// fit_online() hold one; callers that make training tensors hold one too.
struct TrainingMode {
  c10::InferenceMode not_inference{false};
  c10::AutoGradMode grad_on{true};
};

struct TrainHooks {
  // Called after every epoch; returning false stops training.
  std::function<bool(const EpochRecord&)> on_epoch_end;
  // Polled between batches (e.g. for a user interrupt); true stops training.
  std::function<bool()> should_stop;
};

struct TrainResult {
  std::vector<EpochRecord> history;
  int64_t best_epoch = 0;           // epoch whose weights the model holds
  int64_t skipped_batches = 0;      // batches with a non-finite loss
  // "completed", "early_stopping", "callback", "interrupted", "nonfinite"
  std::string stop_reason = "completed";
  // The 0-based rows of the data held out for validation (offline
  // training; empty online, where validation data are given apart).
  std::vector<int64_t> validation_rows;
};

// The AdamW state of every parameter, by parameter name, so that training
// can resume where it stopped (also in another process).
struct OptimizerState {
  struct Entry {
    int64_t step = 0;
    Tensor exp_avg, exp_avg_sq;
  };
  std::unordered_map<std::string, Entry> entries;
};

// Loss of one batch of rows of every data tensor (in the order given to
// fit(); an undefined tensor stays undefined) -> scalar.
using BatchLossFn = std::function<Tensor(const std::vector<Tensor>& batch)>;

// Minimizes `loss` over the rows of `data` by training the parameters of
// `model`. Every defined tensor of `data` has the same number n >= 2 of
// rows (dim 0); undefined ones are passed on as they are.
// optimizer_state (optional): when it holds entries, AdamW starts from
// them; after training it holds the optimizer's final state.
TrainResult fit(torch::nn::Module& model, const BatchLossFn& loss, const std::vector<Tensor>& data,
                const TrainOptions& options, const TrainHooks& hooks, OptimizerState* optimizer_state = nullptr);

// Online training: the rows of training step `step` (0, 1, 2, ... over all
// epochs), freshly simulated; the batch size is the source's choice.
using BatchSource = std::function<std::vector<Tensor>(int64_t step)>;

// Minimizes `loss` on fresh batches from `source`, steps_per_epoch of them
// per epoch, with early stopping on the fixed `validation` rows (none when
// they are empty or undefined: the training loss decides).
TrainResult fit_online(torch::nn::Module& model, const BatchLossFn& loss, const BatchSource& source,
                       int64_t steps_per_epoch, const std::vector<Tensor>& validation,
                       const TrainOptions& options, const TrainHooks& hooks,
                       OptimizerState* optimizer_state = nullptr);

// Loss of one batch (a: [batch, ...], b: [batch, ...]) -> scalar.
using LossFn = std::function<Tensor(const Tensor& a, const Tensor& b)>;

// fit() for two data tensors a: [n, ...] and b: [n, ...].
TrainResult fit(torch::nn::Module& model, const LossFn& loss, const Tensor& a,
                const Tensor& b, const TrainOptions& options, const TrainHooks& hooks);

}  // namespace amortized
