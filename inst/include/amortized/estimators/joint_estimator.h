// A posterior and a likelihood estimator trained together on the same
// simulations (one loss, their sum; one trainer; one set of weights). With
// both q(theta | x) and q(x | theta) the marginal likelihood follows for any
// theta: log p(x) = log p(theta) + log q(x | theta) - log q(theta | x), and
// how much that identity varies over posterior draws tells how far the two
// networks disagree.
#pragma once

#include "amortized/estimators/likelihood_estimator.h"
#include "amortized/estimators/posterior_estimator.h"

#include <memory>
#include <vector>

namespace amortized {

class JointEstimatorImpl : public EstimatorImpl {
 public:
  // likelihood_context: the 0-based columns of the data's context that the
  // likelihood is conditioned on (a set's size conditions the posterior
  // only: the likelihood models one point of it).
  JointEstimatorImpl(std::shared_ptr<PosteriorEstimatorImpl> posterior,
                     std::shared_ptr<LikelihoodEstimatorImpl> likelihood, std::vector<int64_t> likelihood_context);

  void fit_standardization(const Tensor& theta, const DataBatch& data) override;
  // The sum of both estimators' losses on the same simulations.
  Tensor loss(const Tensor& theta, const DataBatch& data) override;
  std::vector<std::string> describe() const override;
  void seed_augmentation(uint64_t seed) override { posterior_->seed_augmentation(seed); }
  int64_t summary_dim() const override { return posterior_->summary_dim(); }
  ConditionNetImpl* data_embedding() override { return posterior_->data_embedding(); }
  EstimatorImpl* part(const std::string& kind) override;

  // The data as the likelihood takes them (its context columns only).
  DataBatch likelihood_data(const DataBatch& data) const;
  PosteriorEstimatorImpl& posterior() { return *posterior_; }
  LikelihoodEstimatorImpl& likelihood() { return *likelihood_; }

 private:
  std::shared_ptr<PosteriorEstimatorImpl> posterior_;
  std::shared_ptr<LikelihoodEstimatorImpl> likelihood_;
  std::vector<int64_t> likelihood_context_;
};
TORCH_MODULE(JointEstimator);

}  // namespace amortized
