// What every amortized estimator is to the trainer, the R handle, the
// optimizer state and weight serialization: a module that fits its
// standardizations on training rows and has a loss. An estimator is a data
// embedding, a target transform chain, a network and its loss; the posterior
// estimator's target is theta, conditioned on the data.
#pragma once

#include "amortized/common.h"
#include "amortized/embedding/data_batch.h"

#include <string>
#include <vector>

namespace amortized {

class ConditionNetImpl;

class EstimatorImpl : public torch::nn::Module {
 public:
  // Fits the standardizations (and other parts fitted to data) on training
  // rows: target [n, ...] and the data (n data sets).
  virtual void fit_standardization(const Tensor& target, const DataBatch& data) = 0;
  // The training loss of a batch: a scalar.
  virtual Tensor loss(const Tensor& target, const DataBatch& data) = 0;
  // Lines describing the whole pipeline.
  virtual std::vector<std::string> describe() const = 0;
  // Seeds the random augmentation of training batches (if any).
  virtual void seed_augmentation(uint64_t /*seed*/) {}
  // The number of learned summary statistics (0: none).
  virtual int64_t summary_dim() const { return 0; }
  // The estimator of another kind ("posterior", "likelihood") that this
  // one holds (a joint estimator holds one of each): nullptr if none.
  virtual EstimatorImpl* part(const std::string& /*kind*/) { return nullptr; }
  // The embedding of the data (what is conditioned on, or classified):
  // nullptr for an estimator of the data themselves (the likelihood).
  virtual ConditionNetImpl* data_embedding() { return nullptr; }
};

}  // namespace amortized
