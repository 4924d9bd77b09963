#include "amortized/train/trainer.h"


#include <chrono>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace amortized {

namespace {

using Snapshot = std::unordered_map<std::string, Tensor>;

Snapshot snapshot(const torch::nn::Module& model) {
  Snapshot s;
  for (const auto& p : model.named_parameters(true)) s[p.key()] = p.value().detach().clone();
  for (const auto& b : model.named_buffers(true)) s[b.key()] = b.value().detach().clone();
  return s;
}

void restore(torch::nn::Module& model, const Snapshot& s) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.named_parameters(true)) p.value().copy_(s.at(p.key()));
  for (auto& b : model.named_buffers(true)) b.value().copy_(s.at(b.key()));
}

// Mean loss over `idx` in batches, without gradients.
double evaluate(const LossFn& loss, const Tensor& a, const Tensor& b, const Tensor& idx) {
  torch::NoGradGuard no_grad;
  const int64_t n = idx.size(0), chunk = 8192;
  double total = 0.0;
  int64_t counted = 0;
  for (int64_t start = 0; start < n; start += chunk) {
    Tensor i = idx.narrow(0, start, std::min(chunk, n - start));
    double l = loss(a.index_select(0, i), b.index_select(0, i)).item<double>();
    if (std::isfinite(l)) {
      total += l * static_cast<double>(i.size(0));
      counted += i.size(0);
    }
  }
  return counted > 0 ? total / static_cast<double>(counted) : std::numeric_limits<double>::infinity();
}

// AdamW over all parameters at once: the parameters and their gradients
// become views into two flat buffers for the duration of training, so that
// a step, the gradient norm and zeroing are a handful of operations instead
// of a dozen per parameter tensor (most of a small network's step time).
// Same update as torch::optim::AdamW (decoupled weight decay, bias-corrected
// moments).
class FlatAdamW {
 public:
  FlatAdamW(std::vector<Tensor> params, double weight_decay) : params_(std::move(params)), wd_(weight_decay) {
    torch::NoGradGuard no_grad;
    int64_t total = 0;
    for (auto& p : params_) total += p.numel();
    auto opts = params_.empty() ? torch::TensorOptions() : params_[0].options();
    flat_ = torch::empty({total}, opts);
    grad_ = torch::zeros({total}, opts);
    m_ = torch::zeros({total}, opts);
    v_ = torch::zeros({total}, opts);
    int64_t offset = 0;
    for (auto& p : params_) {
      const int64_t k = p.numel();
      Tensor view = flat_.narrow(0, offset, k).view(p.sizes());
      view.copy_(p.detach());
      p.set_data(view);
      p.mutable_grad() = grad_.narrow(0, offset, k).view(p.sizes());
      offset += k;
    }
  }
  // Gives every parameter its own storage back (and drops the gradients).
  ~FlatAdamW() {
    torch::NoGradGuard no_grad;
    for (auto& p : params_) {
      p.set_data(p.detach().clone());
      p.mutable_grad() = Tensor();
    }
  }
  void zero_grad() { grad_.zero_(); }
  // Global gradient norm; scales the gradient down to max_norm if above.
  double clip_grad_norm(double max_norm) {
    const double norm = grad_.norm().item<double>();
    if (std::isfinite(norm) && norm > max_norm) grad_.mul_(max_norm / (norm + 1e-6));
    return norm;
  }
  void step(double lr) {
    torch::NoGradGuard no_grad;
    ++t_;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double bc1 = 1 - std::pow(b1, static_cast<double>(t_)), bc2 = 1 - std::pow(b2, static_cast<double>(t_));
    flat_.mul_(1 - lr * wd_);
    m_.mul_(b1).add_(grad_, 1 - b1);
    v_.mul_(b2).addcmul_(grad_, grad_, 1 - b2);
    Tensor denom = (v_.sqrt() / std::sqrt(bc2)).add_(eps);
    flat_.addcdiv_(m_, denom, -lr / bc1);
  }

 private:
  std::vector<Tensor> params_;
  double wd_;
  Tensor flat_, grad_, m_, v_;
  int64_t t_ = 0;
};

double learning_rate_at(const TrainOptions& o, int64_t step, int64_t total_steps) {
  const int64_t warmup = static_cast<int64_t>(std::ceil(o.warmup_fraction() * static_cast<double>(total_steps)));
  if (warmup > 0 && step < warmup) {
    return o.learning_rate() * static_cast<double>(step + 1) / static_cast<double>(warmup);
  }
  const double progress = static_cast<double>(step - warmup) /
                          static_cast<double>(std::max<int64_t>(total_steps - warmup, 1));
  return o.learning_rate() * 0.5 * (1.0 + std::cos(M_PI * std::min(progress, 1.0)));
}

}  // namespace

TrainResult fit(torch::nn::Module& model, const LossFn& loss, const Tensor& a, const Tensor& b,
                const TrainOptions& o, const TrainHooks& hooks) {
  TORCH_CHECK(a.defined() && b.defined() && a.dim() >= 1 && b.dim() >= 1,
              "training data must be defined tensors");
  const int64_t n = a.size(0);
  TORCH_CHECK(b.size(0) == n, "training data have ", n, " and ", b.size(0),
              " rows; they must have the same number");
  TORCH_CHECK(n >= 2, "training needs at least 2 simulations, got ", n);
  TORCH_CHECK(o.epochs() >= 1, "epochs must be >= 1, got ", o.epochs());
  TORCH_CHECK(o.batch_size() >= 1, "batch_size must be >= 1, got ", o.batch_size());
  TORCH_CHECK(o.learning_rate() > 0, "learning_rate must be > 0, got ", o.learning_rate());
  TORCH_CHECK(o.validation_fraction() >= 0 && o.validation_fraction() < 1,
              "validation_fraction must be in [0, 1), got ", o.validation_fraction());

  at::Generator gen = make_generator(o.seed());
  Tensor order = torch::randperm(n, gen, torch::kLong);
  int64_t n_val = static_cast<int64_t>(std::floor(o.validation_fraction() * static_cast<double>(n)));
  if (o.validation_fraction() > 0 && n_val < 1) n_val = 1;
  if (n - n_val < 1) n_val = n - 1;
  Tensor val_idx = order.narrow(0, 0, n_val);
  Tensor train_idx = order.narrow(0, n_val, n - n_val);
  const int64_t n_train = train_idx.size(0);
  const int64_t batch = std::min(o.batch_size(), n_train);
  const int64_t steps_per_epoch = (n_train + batch - 1) / batch;
  const int64_t total_steps = steps_per_epoch * o.epochs();

  FlatAdamW optimizer(model.parameters(true), o.weight_decay());

  TrainResult result;
  double best = std::numeric_limits<double>::infinity();
  Snapshot best_state;
  int64_t since_best = 0, step = 0, nonfinite_run = 0;
  bool stop = false;
  // Counts a batch with a non-finite loss or gradient (never applied);
  // returns true once too many came in a row.
  auto skip_batch = [&]() {
    ++result.skipped_batches;
    if (++nonfinite_run < o.max_nonfinite()) return false;
    result.stop_reason = "nonfinite";
    stop = true;
    return true;
  };

  for (int64_t epoch = 1; epoch <= o.epochs() && !stop; ++epoch) {
    auto t0 = std::chrono::steady_clock::now();
    model.train();
    Tensor perm = train_idx.index_select(0, torch::randperm(n_train, gen, torch::kLong));
    double total = 0.0;
    int64_t counted = 0;
    double lr = o.learning_rate();
    for (int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
      if (hooks.should_stop && hooks.should_stop()) {
        result.stop_reason = "interrupted";
        stop = true;
        break;
      }
      Tensor idx = perm.narrow(0, s * batch, std::min(batch, n_train - s * batch));
      lr = learning_rate_at(o, step, total_steps);
      optimizer.zero_grad();
      Tensor l = loss(a.index_select(0, idx), b.index_select(0, idx));
      const double lv = l.item<double>();
      if (!std::isfinite(lv)) {
        if (skip_batch()) break;
        continue;
      }
      l.backward();
      // The global gradient norm (clipped to clip_grad_norm when that is > 0);
      // a non-finite norm means a non-finite gradient: skip the step.
      const double max_norm = o.clip_grad_norm() > 0 ? o.clip_grad_norm()
                                                     : std::numeric_limits<double>::infinity();
      const double grad_norm = optimizer.clip_grad_norm(max_norm);
      if (!std::isfinite(grad_norm)) {
        if (skip_batch()) break;
        continue;
      }
      nonfinite_run = 0;
      optimizer.step(lr);
      total += lv * static_cast<double>(idx.size(0));
      counted += idx.size(0);
    }
    if (counted == 0) {  // no batch of this epoch was applied
      if (result.stop_reason == "completed") result.stop_reason = "nonfinite";
      break;
    }

    model.eval();
    const double train_loss = total / static_cast<double>(counted);
    const double val_loss = n_val > 0 ? evaluate(loss, a, b, val_idx) : train_loss;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EpochRecord rec{epoch, train_loss, val_loss, lr, secs};
    result.history.push_back(rec);

    if (val_loss < best) {
      best = val_loss;
      best_state = snapshot(model);
      result.best_epoch = epoch;
      since_best = 0;
    } else if (o.patience() > 0 && ++since_best >= o.patience()) {
      result.stop_reason = "early_stopping";
      stop = true;
    }
    if (hooks.on_epoch_end && !hooks.on_epoch_end(rec) && !stop) {
      result.stop_reason = "callback";
      stop = true;
    }
  }
  model.eval();
  if (!best_state.empty()) restore(model, best_state);
  return result;
}

}  // namespace amortized
