#include "amortized/estimators/joint_estimator.h"

namespace amortized {

JointEstimatorImpl::JointEstimatorImpl(std::shared_ptr<PosteriorEstimatorImpl> posterior,
                                       std::shared_ptr<LikelihoodEstimatorImpl> likelihood,
                                       std::vector<int64_t> likelihood_context)
    : posterior_(register_module("posterior", std::move(posterior))),
      likelihood_(register_module("likelihood", std::move(likelihood))),
      likelihood_context_(std::move(likelihood_context)) {
  TORCH_CHECK(posterior_->options().dim_theta() == likelihood_->options().dim_theta(),
              "joint estimator: the posterior and the likelihood must have the same parameters");
  TORCH_CHECK(static_cast<int64_t>(likelihood_context_.size()) == likelihood_->options().dim_context(),
              "joint estimator: the likelihood takes ", likelihood_->options().dim_context(),
              " context columns, got ", likelihood_context_.size());
  for (int64_t c : likelihood_context_) {
    TORCH_CHECK(c >= 0 && c < posterior_->options().dim_context(), "joint estimator: context column ", c,
                " is not among the data's ", posterior_->options().dim_context());
  }
}

DataBatch JointEstimatorImpl::likelihood_data(const DataBatch& data) const {
  DataBatch out = data;
  if (!data.context.defined()) return out;
  if (likelihood_context_.empty()) {
    out.context = Tensor();
  } else {
    out.context = data.context.index_select(
        1, torch::tensor(likelihood_context_, torch::TensorOptions().dtype(torch::kLong).device(data.context.device())));
  }
  return out;
}

void JointEstimatorImpl::fit_standardization(const Tensor& theta, const DataBatch& data) {
  posterior_->fit_standardization(theta, data);
  likelihood_->fit_standardization(theta, likelihood_data(data));
}

Tensor JointEstimatorImpl::loss(const Tensor& theta, const DataBatch& data) {
  return posterior_->loss(theta, data) + likelihood_->loss(theta, likelihood_data(data));
}

std::vector<std::string> JointEstimatorImpl::describe() const {
  std::vector<std::string> out;
  for (auto& line : posterior_->describe()) out.push_back("posterior: " + line);
  for (auto& line : likelihood_->describe()) out.push_back("likelihood: " + line);
  return out;
}

EstimatorImpl* JointEstimatorImpl::part(const std::string& kind) {
  if (kind == "posterior") return posterior_.get();
  if (kind == "likelihood") return likelihood_.get();
  return nullptr;
}

}  // namespace amortized
