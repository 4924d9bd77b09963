#include "amortized/train/trainer.h"

#include <torch/utils.h>

#include <chrono>
#include <functional>
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

// The rows idx of every defined tensor.
std::vector<Tensor> rows(const std::vector<Tensor>& data, const Tensor& idx) {
  std::vector<Tensor> out;
  out.reserve(data.size());
  for (const auto& t : data) out.push_back(t.defined() ? t.index_select(0, idx.to(t.device())) : Tensor());
  return out;
}

// Mean loss over `idx` in batches, without gradients.
double evaluate(const BatchLossFn& loss, const std::vector<Tensor>& data, const Tensor& idx) {
  torch::NoGradGuard no_grad;
  const int64_t n = idx.size(0), chunk = 8192;
  double total = 0.0;
  int64_t counted = 0;
  for (int64_t start = 0; start < n; start += chunk) {
    Tensor i = idx.narrow(0, start, std::min(chunk, n - start));
    double l = loss(rows(data, i)).item<double>();
    if (std::isfinite(l)) {
      total += l * static_cast<double>(i.size(0));
      counted += i.size(0);
    }
  }
  return counted > 0 ? total / static_cast<double>(counted) : std::numeric_limits<double>::infinity();
}

double learning_rate_at(const TrainOptions& o, int64_t step, int64_t total_steps, int64_t steps_per_epoch) {
  const int64_t warmup = static_cast<int64_t>(std::ceil(o.warmup_fraction() * static_cast<double>(total_steps)));
  if (warmup > 0 && step < warmup) {
    return o.learning_rate() * static_cast<double>(step + 1) / static_cast<double>(warmup);
  }
  if (o.schedule() == "constant") return o.learning_rate();
  if (o.schedule() == "step") {
    const int64_t epoch = step / std::max<int64_t>(steps_per_epoch, 1);
    return o.learning_rate() * std::pow(o.step_gamma(), static_cast<double>(epoch / std::max<int64_t>(o.step_epochs(), 1)));
  }
  const double progress = static_cast<double>(step - warmup) /
                          static_cast<double>(std::max<int64_t>(total_steps - warmup, 1));
  return o.learning_rate() * 0.5 * (1.0 + std::cos(M_PI * std::min(progress, 1.0)));
}

}  // namespace

TrainResult fit(torch::nn::Module& model, const LossFn& loss, const Tensor& a, const Tensor& b,
                const TrainOptions& o, const TrainHooks& hooks) {
  TORCH_CHECK(a.defined() && b.defined(), "training data must be defined tensors");
  return fit(model, [&](const std::vector<Tensor>& batch) { return loss(batch[0], batch[1]); }, {a, b}, o, hooks);
}

namespace {

// AdamW (the update of torch::optim::AdamW, without amsgrad) over every
// parameter at once. For the length of training the parameters and their
// gradients are views of one flat tensor each, so that zeroing, clipping,
// the update and the weight average are a dozen operations on one tensor
// rather than a dozen per parameter: a model here has 40-80 small
// parameters, and LibTorch's cost per operation, not arithmetic, dominated
// the step. The destructor gives every parameter its own storage back.
class FlatAdamW {
 public:
  FlatAdamW(torch::nn::Module& model, double weight_decay) : weight_decay_(weight_decay) {
    torch::NoGradGuard no_grad;
    int64_t total = 0;
    for (const auto& p : model.named_parameters(true)) {
      if (!p.value().requires_grad()) continue;
      if (!params_.empty()) {
        TORCH_CHECK(p.value().dtype() == params_.front().dtype() && p.value().device() == params_.front().device(),
                    "training needs every parameter of one type on one device; ", p.key(), " differs");
      }
      names_.push_back(p.key());
      params_.push_back(p.value());
      offsets_.push_back(total);
      total += p.value().numel();
    }
    offsets_.push_back(total);
    const auto options = params_.empty() ? torch::TensorOptions() : params_.front().options();
    flat_ = torch::empty({total}, options);
    grad_ = torch::zeros({total}, options);
    exp_avg_ = torch::zeros({total}, options);
    exp_avg_sq_ = torch::zeros({total}, options);
    for (size_t i = 0; i < params_.size(); ++i) {
      Tensor& p = params_[i];
      Tensor data = slice(flat_, i);
      data.copy_(p.detach());
      p.set_data(data);
      p.mutable_grad() = slice(grad_, i);
    }
  }
  ~FlatAdamW() {
    torch::NoGradGuard no_grad;
    for (auto& p : params_) {
      p.set_data(p.detach().clone());
      p.mutable_grad() = Tensor();
    }
  }
  FlatAdamW(const FlatAdamW&) = delete;
  FlatAdamW& operator=(const FlatAdamW&) = delete;

  void zero_grad() { grad_.zero_(); }
  // Scales the gradient to a 2-norm of at most max_norm (as
  // torch::nn::utils::clip_grad_norm_); returns its norm before.
  double clip_grad_norm(double max_norm) {
    torch::NoGradGuard no_grad;
    const double norm = grad_.norm().item<double>();
    const double coef = max_norm / (norm + 1e-6);
    if (std::isfinite(norm) && coef < 1) grad_.mul_(coef);
    return norm;
  }
  void step(double lr) {
    torch::NoGradGuard no_grad;
    constexpr double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    ++step_;
    const double correction1 = 1 - std::pow(beta1, static_cast<double>(step_));
    const double correction2 = 1 - std::pow(beta2, static_cast<double>(step_));
    if (weight_decay_ > 0) flat_.mul_(1 - lr * weight_decay_);
    exp_avg_.mul_(beta1).add_(grad_, 1 - beta1);
    exp_avg_sq_.mul_(beta2).addcmul_(grad_, grad_, 1 - beta2);
    Tensor denom = (exp_avg_sq_.sqrt() / std::sqrt(correction2)).add_(eps);
    flat_.addcdiv_(exp_avg_, denom, -lr / correction1);
  }
  // Every parameter, end to end (a view that the update changes).
  const Tensor& flat() const { return flat_; }

  // Starts from a saved state: the entries of parameters of the same name
  // and shape (others start afresh).
  void load(const OptimizerState& in) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) {
      auto found = in.entries.find(names_[i]);
      if (found == in.entries.end()) continue;
      const auto& e = found->second;
      if (!e.exp_avg.defined() || e.exp_avg.sizes() != params_[i].sizes()) continue;
      slice(exp_avg_, i).copy_(e.exp_avg);
      slice(exp_avg_sq_, i).copy_(e.exp_avg_sq);
      step_ = std::max(step_, e.step);
    }
  }
  OptimizerState save() const {
    OptimizerState out;
    if (step_ == 0) return out;
    for (size_t i = 0; i < params_.size(); ++i) {
      out.entries[names_[i]] = {step_, slice(exp_avg_, i).clone(), slice(exp_avg_sq_, i).clone()};
    }
    return out;
  }

 private:
  Tensor slice(const Tensor& t, size_t i) const {
    return t.narrow(0, offsets_[i], offsets_[i + 1] - offsets_[i]).view(params_[i].sizes());
  }
  double weight_decay_;
  int64_t step_ = 0;
  std::vector<std::string> names_;
  std::vector<Tensor> params_;
  std::vector<int64_t> offsets_;
  Tensor flat_, grad_, exp_avg_, exp_avg_sq_;
};

// The loop shared by offline and online training. next_batch(epoch, step)
// gives the rows of one training step; validate() the validation loss.
TrainResult run_epochs(torch::nn::Module& model, const BatchLossFn& loss, int64_t steps_per_epoch,
                       const std::function<std::vector<Tensor>(int64_t, int64_t)>& next_batch,
                       const std::function<double()>& validate, const TrainOptions& o, const TrainHooks& hooks,
                       OptimizerState* optimizer_state) {
  TrainingMode training;
  // Dropout draws its masks from LibTorch's default generator: seeded here,
  // so that a seed makes training reproducible (nothing else in the core
  // draws from it).
  torch::manual_seed(o.seed() ^ 0x9E3779B97F4A7C15ULL);
  const int64_t total_steps = steps_per_epoch * o.epochs();
  FlatAdamW optimizer(model, o.weight_decay());
  if (optimizer_state && !optimizer_state->entries.empty()) optimizer.load(*optimizer_state);

  TrainResult result;
  double best = std::numeric_limits<double>::infinity();
  Snapshot best_state;
  // The moving average of the weights (started after the first step, when
  // data-initialized layers have their values) and its updates.
  Tensor ema;
  int64_t ema_steps = 0;
  auto update_ema = [&]() {
    torch::NoGradGuard no_grad;
    if (!ema.defined()) {
      ema = optimizer.flat().clone();
      return;
    }
    ++ema_steps;
    const double d = std::min(o.ema_decay(), (1.0 + ema_steps) / (10.0 + ema_steps));
    ema.mul_(d).add_(optimizer.flat(), 1.0 - d);
  };
  // Swaps the model's weights with the averaged ones (twice: back again).
  auto swap_ema = [&]() {
    if (!ema.defined()) return;
    torch::NoGradGuard no_grad;
    Tensor raw = optimizer.flat().clone();
    optimizer.flat().copy_(ema);
    ema.copy_(raw);
  };
  int64_t since_best = 0, step = 0, nonfinite_run = 0;
  bool stop = false;
  // The anneal after early stopping: from step anneal_start on, the rate
  // decays from anneal_rate to 0 over anneal_steps steps; the last epoch.
  int64_t anneal_start = -1, anneal_steps = 0, last_epoch = o.epochs();
  double anneal_rate = 0.0;
  // Counts a batch with a non-finite loss or gradient (never applied);
  // returns true once too many came in a row.
  auto skip_batch = [&]() {
    ++result.skipped_batches;
    if (++nonfinite_run < o.max_nonfinite()) return false;
    result.stop_reason = "nonfinite";
    stop = true;
    return true;
  };

  for (int64_t epoch = 1; epoch <= last_epoch && !stop; ++epoch) {
    auto t0 = std::chrono::steady_clock::now();
    model.train();
    double total = 0.0;
    int64_t counted = 0;
    double lr = o.learning_rate();
    for (int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
      if (hooks.should_stop && hooks.should_stop()) {
        result.stop_reason = "interrupted";
        stop = true;
        break;
      }
      std::vector<Tensor> batch = next_batch(epoch, s);
      lr = anneal_start < 0 ? learning_rate_at(o, step, total_steps, steps_per_epoch)
                            : anneal_rate * 0.5 *
                                  (1.0 + std::cos(M_PI * std::min(1.0, static_cast<double>(step - anneal_start) /
                                                                           static_cast<double>(anneal_steps))));
      optimizer.zero_grad();
      Tensor l = loss(batch);
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
      if (o.ema_decay() > 0) update_ema();
      const int64_t rows_in_batch = batch.front().size(0);
      total += lv * static_cast<double>(rows_in_batch);
      counted += rows_in_batch;
    }
    if (counted == 0) {  // no batch of this epoch was applied
      if (result.stop_reason == "completed") result.stop_reason = "nonfinite";
      break;
    }

    model.eval();
    swap_ema();  // validate (and keep as best) the averaged weights
    const double train_loss = total / static_cast<double>(counted);
    const double val_loss = validate ? validate() : train_loss;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EpochRecord rec{epoch, train_loss, val_loss, lr, secs};
    result.history.push_back(rec);

    if (val_loss < best) {
      best = val_loss;
      best_state = snapshot(model);
      result.best_epoch = epoch;
      since_best = 0;
    } else if (o.patience() > 0 && anneal_start < 0 && ++since_best >= o.patience()) {
      result.stop_reason = "early_stopping";
      stop = true;
    }
    if (hooks.on_epoch_end && !hooks.on_epoch_end(rec) && !stop) {  // callbacks see the averaged weights
      result.stop_reason = "callback";
      stop = true;
    }
    swap_ema();
    if (stop && result.stop_reason == "early_stopping" && o.anneal_epochs() > 0 && o.schedule() != "constant" &&
        !best_state.empty() &&
        epoch < o.epochs()) {
      // anneal: from the best (validated) weights, with the rate decaying
      stop = false;
      restore(model, best_state);
      if (ema.defined()) {
        torch::NoGradGuard no_grad;
        ema.copy_(optimizer.flat());
      }
      anneal_start = step;
      anneal_steps = o.anneal_epochs() * steps_per_epoch;
      anneal_rate = lr;
      last_epoch = std::min(o.epochs(), epoch + o.anneal_epochs());
    }
  }
  model.eval();
  if (!best_state.empty()) {
    restore(model, best_state);
  } else {
    swap_ema();  // no epoch was validated: the averaged weights
  }
  if (optimizer_state) *optimizer_state = optimizer.save();
  return result;
}

void check_options(const TrainOptions& o) {
  TORCH_CHECK(o.epochs() >= 1, "epochs must be >= 1, got ", o.epochs());
  TORCH_CHECK(o.anneal_epochs() >= 0, "anneal_epochs must be >= 0, got ", o.anneal_epochs());
  TORCH_CHECK(o.batch_size() >= 1, "batch_size must be >= 1, got ", o.batch_size());
  TORCH_CHECK(o.learning_rate() > 0, "learning_rate must be > 0, got ", o.learning_rate());
  TORCH_CHECK(o.validation_fraction() >= 0 && o.validation_fraction() < 1,
              "validation_fraction must be in [0, 1), got ", o.validation_fraction());
  TORCH_CHECK(o.schedule() == "cosine" || o.schedule() == "constant" || o.schedule() == "step",
              "schedule must be \"cosine\", \"constant\" or \"step\", got \"", o.schedule(), "\"");
  TORCH_CHECK(o.step_epochs() >= 1 && o.step_gamma() > 0, "step schedules need step_epochs >= 1 and step_gamma > 0");
  TORCH_CHECK(o.ema_decay() >= 0 && o.ema_decay() < 1, "ema_decay must be in [0, 1), got ", o.ema_decay());
}

// The number of rows shared by every defined tensor of data (-1: none).
int64_t common_rows(const std::vector<Tensor>& data) {
  int64_t n = -1;
  for (const auto& t : data) {
    if (!t.defined()) continue;
    TORCH_CHECK(t.dim() >= 1, "training data must have at least one dimension");
    if (n < 0) n = t.size(0);
    TORCH_CHECK(t.size(0) == n, "training data have ", n, " and ", t.size(0),
                " rows; they must have the same number");
  }
  return n;
}

}  // namespace

TrainResult fit(torch::nn::Module& model, const BatchLossFn& loss, const std::vector<Tensor>& data,
                const TrainOptions& o, const TrainHooks& hooks, OptimizerState* optimizer_state) {
  const int64_t n = common_rows(data);
  TORCH_CHECK(n >= 0, "training needs at least one defined data tensor");
  TORCH_CHECK(n >= 2, "training needs at least 2 simulations, got ", n);
  check_options(o);

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

  Tensor key;
  if (o.bucket_by() >= 0) {
    TORCH_CHECK(o.bucket_by() < static_cast<int64_t>(data.size()), "bucket_by ", o.bucket_by(), " is not a data tensor");
    key = data[o.bucket_by()];
    if (key.defined()) key = key.reshape({-1}).to(torch::kCPU);
  }
  Tensor perm, batch_order;
  auto next_batch = [&](int64_t /*epoch*/, int64_t s) {
    if (s == 0) {
      perm = train_idx.index_select(0, torch::randperm(n_train, gen, torch::kLong));
      if (key.defined()) {
        const int64_t window = 32 * batch;
        std::vector<Tensor> parts;
        for (int64_t start = 0; start < n_train; start += window) {
          Tensor w = perm.narrow(0, start, std::min(window, n_train - start));
          Tensor order = std::get<1>(key.index_select(0, w).sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
          parts.push_back(w.index_select(0, order));
        }
        perm = torch::cat(parts);
        batch_order = torch::randperm(steps_per_epoch, gen, torch::kLong);
      }
    }
    const int64_t b = key.defined() ? batch_order[s].item<int64_t>() : s;
    return rows(data, perm.narrow(0, b * batch, std::min(batch, n_train - b * batch)));
  };
  std::function<double()> validate;
  if (n_val > 0) validate = [&]() { return evaluate(loss, data, val_idx); };
  TrainResult result = run_epochs(model, loss, steps_per_epoch, next_batch, validate, o, hooks, optimizer_state);
  const Tensor held = val_idx.contiguous();
  result.validation_rows.assign(held.data_ptr<int64_t>(), held.data_ptr<int64_t>() + held.numel());
  return result;
}

TrainResult fit_online(torch::nn::Module& model, const BatchLossFn& loss, const BatchSource& source,
                       int64_t steps_per_epoch, const std::vector<Tensor>& validation, const TrainOptions& o,
                       const TrainHooks& hooks, OptimizerState* optimizer_state) {
  TORCH_CHECK(source, "online training needs a source of batches");
  TORCH_CHECK(steps_per_epoch >= 1, "steps_per_epoch must be >= 1, got ", steps_per_epoch);
  check_options(o);
  const int64_t n_val = common_rows(validation);
  auto next_batch = [&](int64_t epoch, int64_t s) {
    std::vector<Tensor> batch = source((epoch - 1) * steps_per_epoch + s);
    TORCH_CHECK(common_rows(batch) >= 1, "the batch source gave an empty batch");
    return batch;
  };
  std::function<double()> validate;
  if (n_val > 0) {
    Tensor all = torch::arange(n_val, torch::kLong);
    validate = [&, all]() { return evaluate(loss, validation, all); };
  }
  return run_epochs(model, loss, steps_per_epoch, next_batch, validate, o, hooks, optimizer_state);
}

}  // namespace amortized
