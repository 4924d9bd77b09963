#include "amortized/summary/deep_set.h"

#include <sstream>

namespace amortized {

DeepSetImpl::DeepSetImpl(const DeepSetOptions& o)
    : SummaryNetImpl(o.input_dim(), o.output_dim()), options(o), activation_(o.activation()) {
  TORCH_CHECK(o.width() >= 1, "deep set width must be >= 1, got ", o.width());
  TORCH_CHECK(o.equivariant_layers() >= 0, "deep set equivariant_layers must be >= 0, got ",
              o.equivariant_layers());
  check_activation(o.activation());
  embed_ = register_module("embed", torch::nn::Linear(o.input_dim(), o.width()));
  self_ = register_module("self", torch::nn::ModuleList());
  pooled_ = register_module("pooled", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.equivariant_layers(); ++i) {
    self_->push_back(torch::nn::Linear(o.width(), o.width()));
    pooled_->push_back(torch::nn::Linear(torch::nn::LinearOptions(o.width(), o.width()).bias(false)));
  }
  head_ = register_module(
      "head", MLP(MLPOptions(3 * o.width(), o.output_dim()).hidden(o.hidden()).activation(o.activation())));
}

Tensor DeepSetImpl::forward(const Tensor& x, const Tensor& lengths) {
  Tensor mask = valid_mask(x, lengths);
  Tensor h = activate(embed_->forward(x), activation_);
  for (size_t i = 0; i < self_->size(); ++i) {
    Tensor pooled = masked_mean(h, mask).unsqueeze(1);
    h = activate(self_[i]->as<torch::nn::Linear>()->forward(h) +
                     pooled_[i]->as<torch::nn::Linear>()->forward(pooled),
                 activation_);
  }
  return head_->forward(torch::cat({masked_mean(h, mask), masked_sd(h, mask), masked_max(h, mask)}, 1));
}

std::vector<std::string> DeepSetImpl::describe() const {
  std::ostringstream s;
  s << "deep set (" << input_dim() << " per point -> " << output_dim() << " summaries; width "
    << options.width() << ", " << options.equivariant_layers()
    << " equivariant layers, mean/sd/max pooling)";
  return {s.str()};
}

}  // namespace amortized
