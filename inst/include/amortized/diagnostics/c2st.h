// Classifier two-sample test (C2ST) with the protocol of the sbibm benchmark.
#pragma once

#include "amortized/common.h"

#include <torch/arg.h>

#include <vector>

namespace amortized {

// Defaults follow the benchmark (scikit-learn's MLPClassifier defaults).
struct C2stOptions {
  // Cross-validation folds (shuffled).
  TORCH_ARG(int64_t, folds) = 5;
  // Hidden units per layer = hidden_factor * dim (two ReLU layers).
  TORCH_ARG(int64_t, hidden_factor) = 10;
  // Adam with this learning rate, on minibatches of min(batch_size, n).
  TORCH_ARG(double, learning_rate) = 1e-3;
  TORCH_ARG(int64_t, batch_size) = 200;
  // L2 penalty 0.5 * alpha * ||W||^2 / batch on the weights (not the biases).
  TORCH_ARG(double, alpha) = 1e-4;
  // Training stops when the epoch loss has not improved by tol for
  // more than n_iter_no_change epochs, or after max_epochs.
  TORCH_ARG(double, tol) = 1e-4;
  TORCH_ARG(int64_t, n_iter_no_change) = 10;
  TORCH_ARG(int64_t, max_epochs) = 1000;
  // z-score both samples with the mean and sd of the reference.
  TORCH_ARG(bool, z_score) = true;
  TORCH_ARG(uint64_t, seed) = 1;
};

struct C2stResult {
  double accuracy = 0;              // mean held-out accuracy over folds
  std::vector<double> fold_accuracy;
  std::vector<int64_t> fold_epochs;  // epochs each fold's classifier trained
};

// estimate: [n1, dim], reference: [n2, dim] (float64 or float32; finite).
// Labels: reference 0, estimate 1. The folds' classifiers are trained
// together as one batched network (each with its own weights, optimizer
// state and stopping rule), which is what makes this fast on a CPU.
C2stResult c2st(const Tensor& estimate, const Tensor& reference, const C2stOptions& options = {});

}  // namespace amortized
