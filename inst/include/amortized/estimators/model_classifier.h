// Amortized model comparison: a classifier over candidate models. The data
// embedding (a summary network for sets and series, standardization for
// flat data, the context) feeds an MLP whose softmax estimates p(model | x)
// under the model prior the training simulations were drawn from. Its loss
// is the cross-entropy of the model that produced each simulation. The
// target is the 0-based model index, one column.
#pragma once

#include "amortized/embedding/condition_net.h"
#include "amortized/estimators/estimator.h"
#include "amortized/nn/mlp.h"

#include <memory>
#include <vector>

namespace amortized {

class ModelClassifierImpl : public EstimatorImpl {
 public:
  // head: MLP from embedding->output_dim() features to n_models logits.
  ModelClassifierImpl(ConditionNet embedding, MLP head, int64_t n_models);

  // target: [n, 1] model indices (0 .. n_models - 1, as floats).
  void fit_standardization(const Tensor& target, const DataBatch& data) override;
  // Mean cross-entropy of the true model: a scalar.
  Tensor loss(const Tensor& target, const DataBatch& data) override;
  // log p(model | x) for every model: [rows(data), n_models].
  Tensor log_probs(const DataBatch& data);
  std::vector<std::string> describe() const override;
  int64_t summary_dim() const override { return embedding_->summary_dim(); }
  ConditionNetImpl* data_embedding() override { return embedding_.get(); }

  int64_t n_models() const { return n_models_; }
  ConditionNetImpl& embedding() { return *embedding_; }

 private:
  Tensor labels(const Tensor& target) const;
  ConditionNet embedding_{nullptr};
  MLP head_{nullptr};
  int64_t n_models_;
};
TORCH_MODULE(ModelClassifier);

}  // namespace amortized
