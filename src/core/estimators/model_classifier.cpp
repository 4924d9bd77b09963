#include "amortized/estimators/model_classifier.h"

#include <torch/nn/functional/loss.h>

namespace amortized {

ModelClassifierImpl::ModelClassifierImpl(ConditionNet embedding, MLP head, int64_t n_models)
    : embedding_(register_module("embedding", embedding)), head_(register_module("head", head)),
      n_models_(n_models) {
  TORCH_CHECK(n_models >= 2, "model classifier: at least 2 models, got ", n_models);
  TORCH_CHECK(head_->options.in_features() == embedding_->output_dim(), "model classifier: the head takes ",
              head_->options.in_features(), " features; the embedding gives ", embedding_->output_dim());
  TORCH_CHECK(head_->options.out_features() == n_models, "model classifier: the head gives ",
              head_->options.out_features(), " logits for ", n_models, " models");
}

Tensor ModelClassifierImpl::labels(const Tensor& target) const {
  check_shape(target, "target", {-1, 1});
  Tensor k = target.select(1, 0).round().to(torch::kLong);
  TORCH_CHECK(k.numel() == 0 || (k.min().item<int64_t>() >= 0 && k.max().item<int64_t>() < n_models_),
              "model classifier: model indices must lie in 0..", n_models_ - 1);
  return k;
}

void ModelClassifierImpl::fit_standardization(const Tensor& target, const DataBatch& data) {
  labels(target);
  embedding_->fit(data);
}

Tensor ModelClassifierImpl::loss(const Tensor& target, const DataBatch& data) {
  const Tensor cond = embedding_->forward(embedding_->augment(data));
  return torch::nn::functional::cross_entropy(head_->forward(cond), labels(target)) + embedding_->summary_penalty(cond);
}

Tensor ModelClassifierImpl::log_probs(const DataBatch& data) {
  return torch::log_softmax(head_->forward(embedding_->forward(data)), 1);
}

std::vector<std::string> ModelClassifierImpl::describe() const {
  std::vector<std::string> out = embedding_->describe();
  std::string widths;
  for (int64_t w : head_->options.hidden()) widths += (widths.empty() ? "" : ", ") + std::to_string(w);
  out.push_back("classifier over " + std::to_string(n_models_) + " models: MLP (" + widths + "), " +
                head_->options.activation() + ", softmax");
  return out;
}

}  // namespace amortized
