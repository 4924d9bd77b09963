#include "amortized/summary/set_transformer.h"

#include <sstream>

namespace amortized {

SetTransformerImpl::SetTransformerImpl(const SetTransformerOptions& o)
    : SummaryNetImpl(o.input_dim(), o.output_dim()), options(o) {
  TORCH_CHECK(o.blocks() >= 0, "set transformer blocks must be >= 0, got ", o.blocks());
  TORCH_CHECK(o.inducing_points() >= 0, "set transformer inducing_points must be >= 0, got ",
              o.inducing_points());
  TORCH_CHECK(o.seeds() >= 1, "set transformer seeds must be >= 1, got ", o.seeds());
  embed_ = register_module("embed", torch::nn::Linear(o.input_dim(), o.width()));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  induced_ = register_module("induced", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.blocks(); ++i) {
    blocks_->push_back(AttentionBlock(o.width(), o.heads()));
    if (o.inducing_points() > 0) {
      induced_->push_back(AttentionBlock(o.width(), o.heads()));
      inducing_.push_back(
          register_parameter("inducing" + std::to_string(i), torch::randn({o.inducing_points(), o.width()})));
    }
  }
  seeds_ = register_parameter("seeds", torch::randn({o.seeds(), o.width()}));
  pool_ = register_module("pool", AttentionBlock(o.width(), o.heads()));
  head_ = register_module("head", torch::nn::Linear(o.seeds() * o.width(), o.output_dim()));
}

Tensor SetTransformerImpl::forward(const Tensor& x, const Tensor& lengths) {
  Tensor mask = valid_mask(x, lengths);
  const int64_t b = x.size(0);
  Tensor h = embed_->forward(x);
  for (size_t i = 0; i < blocks_->size(); ++i) {
    auto block = blocks_[i]->as<AttentionBlock>();
    if (inducing_.empty()) {
      h = block->forward(h, h, mask);  // SAB: every point attends to the valid points
    } else {                           // ISAB: through the inducing points
      Tensor ind = inducing_[i].unsqueeze(0).expand({b, -1, -1});
      Tensor summary = induced_[i]->as<AttentionBlock>()->forward(ind, h, mask);
      h = block->forward(h, summary, Tensor());
    }
  }
  Tensor pooled = pool_->forward(seeds_.unsqueeze(0).expand({b, -1, -1}), h, mask);  // [b, seeds, width]
  return head_->forward(pooled.reshape({b, -1}));
}

std::vector<std::string> SetTransformerImpl::describe() const {
  std::ostringstream s;
  s << "set transformer (" << input_dim() << " per point -> " << output_dim() << " summaries; width "
    << options.width() << ", " << options.heads() << " heads, " << options.blocks() << " blocks";
  if (options.inducing_points() > 0) s << " with " << options.inducing_points() << " inducing points";
  s << ", attention pooling)";
  return {s.str()};
}

}  // namespace amortized
