// An ensemble of inference networks: the equal-weight mixture
// q(theta | x) = (1/K) sum_k q_k(theta | x) of K members trained side by
// side on the same batches, each on its own loss, from different initial
// weights. Deep ensembles smooth over the errors of single networks.
#pragma once

#include "amortized/flows/inference_net.h"

#include <memory>
#include <vector>

namespace amortized {

class EnsembleImpl : public InferenceNetImpl {
 public:
  // Members of the same dim and context_dim (at least one).
  explicit EnsembleImpl(std::vector<std::shared_ptr<InferenceNetImpl>> members);

  // log of the mixture density: log (1/K) sum_k q_k.
  Tensor log_prob(const Tensor& theta, const Tensor& context) override;
  // Each draw comes from a member chosen uniformly at random.
  Tensor sample(int64_t n, const Tensor& context, at::Generator& gen) override;
  // The mean of the members' losses (each member learns on its own).
  Tensor loss(const Tensor& theta, const Tensor& context) override;
  // Re-draws every member's weights from `gen`, one after the other.
  void reset_parameters(at::Generator& gen) override;
  std::vector<std::string> describe() const override;

  int64_t size() const { return static_cast<int64_t>(members_.size()); }
  InferenceNetImpl& member(int64_t k) { return *members_.at(k); }

 private:
  std::vector<std::shared_ptr<InferenceNetImpl>> members_;
};
TORCH_MODULE(Ensemble);

}  // namespace amortized
