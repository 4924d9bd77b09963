#include "amortized/summary/fusion.h"

namespace amortized {

FusionNetImpl::FusionNetImpl(std::vector<std::shared_ptr<SummaryNetImpl>> nets, std::vector<std::string> names)
    : nets_(std::move(nets)), names_(std::move(names)) {
  TORCH_CHECK(!nets_.empty(), "a fusion network needs at least one summary network");
  TORCH_CHECK(names_.empty() || names_.size() == nets_.size(), "a fusion network needs one name per source (",
              nets_.size(), "), got ", names_.size());
  if (names_.empty()) {
    for (size_t k = 0; k < nets_.size(); ++k) names_.push_back("source " + std::to_string(k + 1));
  }
  for (size_t k = 0; k < nets_.size(); ++k) {
    TORCH_CHECK(nets_[k] != nullptr, "the summary network of source ", names_[k], " is missing");
    register_module("source_" + std::to_string(k), nets_[k]);
    output_dim_ += nets_[k]->output_dim();
  }
}

Tensor FusionNetImpl::forward(const std::vector<DataSource>& sources) {
  TORCH_CHECK(sources.size() == nets_.size(), "the fusion network takes ", nets_.size(), " sources, got ",
              sources.size());
  std::vector<Tensor> parts;
  parts.reserve(nets_.size());
  for (size_t k = 0; k < nets_.size(); ++k) {
    TORCH_CHECK(sources[k].x.defined(), "source ", names_[k], " has no data");
    TORCH_CHECK(k == 0 || sources[k].x.size(0) == sources[0].x.size(0), "source ", names_[k], " has ",
                sources[k].x.size(0), " data sets, source ", names_[0], " ", sources[0].x.size(0));
    parts.push_back(nets_[k]->forward(sources[k].x, sources[k].lengths));
  }
  return torch::cat(parts, 1);
}

void FusionNetImpl::reset_parameters(at::Generator& gen) {
  for (auto& net : nets_) net->reset_parameters(gen);
}

std::vector<std::string> FusionNetImpl::describe() const {
  std::vector<std::string> out = {"fusion of " + std::to_string(nets_.size()) + " sources, " +
                                  std::to_string(output_dim_) + " summaries in all"};
  for (size_t k = 0; k < nets_.size(); ++k) {
    for (const auto& line : nets_[k]->describe()) out.push_back(names_[k] + ": " + line);
  }
  return out;
}

}  // namespace amortized
