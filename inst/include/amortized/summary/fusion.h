// FusionNet: summaries of multi-source data. Each source (an exchangeable
// set, a time series, ...) has its own summary network; their summaries are
// concatenated, so the inference network sees them all at once and the
// whole is trained end to end.
#pragma once

#include "amortized/summary/summary_net.h"

#include <memory>
#include <string>
#include <vector>

namespace amortized {

// One source of a batch: x [batch, n, dim] (padded at the end) and its
// lengths [batch] (int64, 1..n), or undefined (every point valid).
struct DataSource {
  Tensor x;
  Tensor lengths;
};

class FusionNetImpl : public torch::nn::Module {
 public:
  // One summary network per source, in the order of the sources; names
  // (one per source, or empty) label them in describe().
  explicit FusionNetImpl(std::vector<std::shared_ptr<SummaryNetImpl>> nets, std::vector<std::string> names = {});

  // sources[k] goes through net k -> [batch, output_dim()]: the summaries
  // of source 0, then of source 1, ...
  Tensor forward(const std::vector<DataSource>& sources);
  // Re-draws every weight from `gen`.
  void reset_parameters(at::Generator& gen);
  std::vector<std::string> describe() const;

  int64_t size() const { return static_cast<int64_t>(nets_.size()); }
  SummaryNetImpl& net(int64_t k) { return *nets_.at(k); }
  const SummaryNetImpl& net(int64_t k) const { return *nets_.at(k); }
  const std::vector<std::string>& names() const { return names_; }
  int64_t output_dim() const { return output_dim_; }

 private:
  std::vector<std::shared_ptr<SummaryNetImpl>> nets_;
  std::vector<std::string> names_;
  int64_t output_dim_ = 0;
};
TORCH_MODULE(FusionNet);

}  // namespace amortized
