// Rcpp glue for any estimator: its handle, state, training and autograd
// mode; the helpers every glue file shares (glue/glue.h). Converts R
// objects and calls the core; nothing else.
#include "glue/glue.h"

#include "amortized/embedding/condition_net.h"

#include <Rinternals.h>
#include <R_ext/Utils.h>

#include <algorithm>
#include <map>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>

using namespace amortized;

namespace amortized_glue {

SEXP new_handle(const std::string& kind, std::shared_ptr<EstimatorImpl> module) {
  module->eval();
  std::unique_ptr<EstimatorHandle> h(new EstimatorHandle{kind, std::move(module)});
  SEXP out = r_safe([&] { return Rcpp::XPtr<EstimatorHandle>(h.get(), true); });
  h.release();  // owned by R's external pointer from now on
  return out;
}

EstimatorHandle& handle(SEXP ptr) {
  Rcpp::XPtr<EstimatorHandle> p(ptr);
  if (p.get() == nullptr || !p->module) Rcpp::stop("the amortizer's model is not built (null pointer)");
  return *p;
}

// "cpu", "cuda" or "auto" -> the device; asking for CUDA without it is an error.
torch::Device as_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  const bool cuda = torch::cuda::is_available();
  if (name == "auto") return cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name != "cuda") Rcpp::stop("device must be \"cpu\", \"cuda\" or \"auto\", got \"" + name + "\"");
  if (!cuda) {
    Rcpp::stop("device = \"cuda\" was requested, but %s. Use device = \"cpu\" (or \"auto\").",
               at::hasCUDA() ? "no CUDA GPU is visible" : "this LibTorch was built without CUDA");
  }
  return torch::kCUDA;
}

void prepare_inference(EstimatorImpl& est, int threads, const std::string& device) {
  set_threads(threads);
  est.to(as_device(device));
  est.eval();
}

torch::Device device_of(torch::nn::Module& module) { return module.parameters().front().device(); }

namespace {

void check_interrupt_fn(void*) { R_CheckUserInterrupt(); }
// Checks left before an injected interrupt (-1: none).
int interrupt_countdown = -1;

}  // namespace

bool user_interrupted() {
  if (interrupt_countdown >= 0 && interrupt_countdown-- == 0) return true;
  return R_ToplevelExec(check_interrupt_fn, nullptr) == FALSE;
}

void check_interrupt() {
  if (user_interrupted()) throw Rcpp::internal::InterruptedException();
}

namespace {

// R data -> tensor: an n x d matrix -> [n, d]; an [n, N, d] array -> [n, N, d].
torch::Tensor data_to_tensor(const Rcpp::NumericVector& x) {
  Rcpp::IntegerVector dim = x.attr("dim");
  if (dim.size() == 2) return matrix_to_tensor(Rcpp::NumericMatrix(x));
  if (dim.size() != 3) Rcpp::stop("data must be a matrix or a 3-d array");
  const int64_t n = dim[0], points = dim[1], d = dim[2];
  return torch::from_blob(const_cast<double*>(x.begin()), {d, points, n}, torch::kDouble)
      .permute({2, 1, 0})
      .to(torch::kFloat)
      .contiguous();
}

torch::Tensor lengths_to_tensor(const Rcpp::IntegerVector& lengths) {
  return torch::tensor(std::vector<int64_t>(lengths.begin(), lengths.end()), torch::kLong);
}

}  // namespace

DataBatch as_batch(SEXP x, const Rcpp::IntegerVector& lengths, const Rcpp::NumericMatrix& context) {
  DataBatch b;
  if (TYPEOF(x) == VECSXP) {
    Rcpp::List l(x);
    b.x = matrix_to_tensor(Rcpp::NumericMatrix(Rcpp::as<SEXP>(l["flat"])));
    Rcpp::List sources = l["sources"];
    for (R_xlen_t k = 0; k < sources.size(); ++k) {
      Rcpp::List src = sources[k];
      b.sources.push_back({data_to_tensor(src["x"]), lengths_to_tensor(src["lengths"])});
    }
  } else {
    b.x = data_to_tensor(x);
    if (lengths.size() > 0) b.lengths = lengths_to_tensor(lengths);
  }
  if (context.ncol() > 0) b.context = matrix_to_tensor(context);
  return b;
}

std::pair<torch::Tensor, DataBatch> density_inputs(torch::nn::Module& est, const Rcpp::NumericMatrix& theta, SEXP x,
                                                   const Rcpp::IntegerVector& lengths,
                                                   const Rcpp::NumericMatrix& context) {
  const torch::Device dev = device_of(est);
  return {matrix_to_tensor(theta).to(dev), to_device(as_batch(x, lengths, context), dev)};
}

namespace {

// A batch as the trainer's row tensors (after target): x, lengths, context,
// then x and lengths of each source; and back.
std::vector<torch::Tensor> batch_tensors(const torch::Tensor& target, const DataBatch& b) {
  std::vector<torch::Tensor> out = {target, b.x, b.lengths, b.context};
  for (const auto& s : b.sources) {
    out.push_back(s.x);
    out.push_back(s.lengths);
  }
  return out;
}

DataBatch batch_of(const std::vector<torch::Tensor>& t) {
  DataBatch b{t[1], t[2], t[3]};
  for (size_t k = 4; k + 1 < t.size(); k += 2) b.sources.push_back({t[k], t[k + 1]});
  return trim_padding(b);
}

TrainOptions train_options(const Rcpp::List& options) {
  TrainOptions o;
  o.epochs(Rcpp::as<int>(options["epochs"]))
      .batch_size(Rcpp::as<int>(options["batch_size"]))
      .learning_rate(Rcpp::as<double>(options["learning_rate"]))
      .weight_decay(Rcpp::as<double>(options["weight_decay"]))
      .validation_fraction(Rcpp::as<double>(options["validation_fraction"]))
      .clip_grad_norm(Rcpp::as<double>(options["clip_grad_norm"]))
      .patience(Rcpp::as<int>(options["patience"]))
      .seed(as_seed(Rcpp::as<double>(options["seed"])))
      .schedule(Rcpp::as<std::string>(options["schedule"]))
      .step_epochs(Rcpp::as<int>(options["step_epochs"]))
      .step_gamma(Rcpp::as<double>(options["step_gamma"]))
      .ema_decay(Rcpp::as<double>(options["ema_decay"]))
      .anneal_epochs(Rcpp::as<int>(options["anneal_epochs"]));
  return o;
}

// Hooks: Ctrl-C between batches, and the R function called after each epoch
// (returning FALSE stops).
TrainHooks train_hooks(Rcpp::Function& on_epoch) {
  TrainHooks hooks;
  hooks.should_stop = user_interrupted;
  hooks.on_epoch_end = [&on_epoch](const EpochRecord& r) {
    Rcpp::LogicalVector keep = on_epoch(r.epoch, r.train_loss, r.validation_loss, r.learning_rate, r.seconds);
    return keep.size() == 0 || keep[0] != FALSE;
  };
  return hooks;
}

Rcpp::List optimizer_state_to_r(const OptimizerState& state);

// The training result for R: the history as a list of columns (R makes it a
// data frame), the best epoch, why it stopped, and the optimizer's state.
Rcpp::List train_result(const TrainResult& res, const OptimizerState& state) {
  Rcpp::List optimizer = optimizer_state_to_r(state);
  return r_safe([&] {
    const size_t n = res.history.size();
    Rcpp::IntegerVector epoch(n);
    Rcpp::NumericVector train_loss(n), val_loss(n), lr(n), secs(n);
    Rcpp::IntegerVector held(res.validation_rows.size());
    for (size_t i = 0; i < res.validation_rows.size(); ++i) held[i] = static_cast<int>(res.validation_rows[i]) + 1;
    for (size_t i = 0; i < n; ++i) {
      epoch[i] = static_cast<int>(res.history[i].epoch);
      train_loss[i] = res.history[i].train_loss;
      val_loss[i] = res.history[i].validation_loss;
      lr[i] = res.history[i].learning_rate;
      secs[i] = res.history[i].seconds;
    }
    return Rcpp::List::create(
        Rcpp::Named("history") = Rcpp::List::create(
            Rcpp::Named("epoch") = epoch, Rcpp::Named("train_loss") = train_loss,
            Rcpp::Named("validation_loss") = val_loss, Rcpp::Named("learning_rate") = lr,
            Rcpp::Named("seconds") = secs),
        Rcpp::Named("best_epoch") = static_cast<int>(res.best_epoch), Rcpp::Named("stop_reason") = res.stop_reason,
        Rcpp::Named("skipped_batches") = static_cast<double>(res.skipped_batches),
        Rcpp::Named("validation_rows") = held,
        Rcpp::Named("optimizer_state") = optimizer);
  });
}

// AdamW state from R: NULL, or list(names, steps, exp_avg, exp_avg_sq) with
// the two moment vectors of the named parameters, one after the other.
OptimizerState optimizer_state_from_r(SEXP r, EstimatorImpl& est) {
  OptimizerState out;
  if (Rf_isNull(r)) return out;
  Rcpp::List l(r);
  Rcpp::CharacterVector names = l["names"];
  Rcpp::NumericVector steps = l["steps"], m = l["exp_avg"], v = l["exp_avg_sq"];
  std::map<std::string, torch::Tensor> params;
  for (const auto& p : est.named_parameters(true)) params[p.key()] = p.value();
  int64_t at = 0;
  for (R_xlen_t i = 0; i < names.size(); ++i) {
    auto found = params.find(Rcpp::as<std::string>(names[i]));
    if (found == params.end()) Rcpp::stop("the optimizer state names a parameter the model lacks");
    const int64_t k = found->second.numel();
    if (at + k > m.size() || at + k > v.size()) Rcpp::stop("the optimizer state is shorter than the model");
    auto slice = [&](Rcpp::NumericVector& src) {
      return torch::from_blob(src.begin() + at, {k}, torch::kDouble).clone().reshape(found->second.sizes());
    };
    out.entries[found->first] = {static_cast<int64_t>(steps[i]), slice(m), slice(v)};
    at += k;
  }
  return out;
}

Rcpp::List optimizer_state_to_r(const OptimizerState& state) {
  std::vector<std::string> names;
  for (const auto& e : state.entries) names.push_back(e.first);
  std::sort(names.begin(), names.end());
  int64_t total = 0;
  for (const auto& n : names) total += state.entries.at(n).exp_avg.numel();
  Rcpp::NumericVector steps = r_numeric(static_cast<int64_t>(names.size()), "the optimizer's steps");
  Rcpp::NumericVector m = r_numeric(total, "the optimizer's state"), v = r_numeric(total, "the optimizer's state");
  int64_t at = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& e = state.entries.at(names[i]);
    steps[i] = static_cast<double>(e.step);
    torch::Tensor a = e.exp_avg.to(torch::kCPU, torch::kDouble).contiguous();
    torch::Tensor b = e.exp_avg_sq.to(torch::kCPU, torch::kDouble).contiguous();
    std::copy(a.data_ptr<double>(), a.data_ptr<double>() + a.numel(), m.begin() + at);
    std::copy(b.data_ptr<double>(), b.data_ptr<double>() + b.numel(), v.begin() + at);
    at += a.numel();
  }
  return r_safe([&] {
    return Rcpp::List::create(Rcpp::Named("names") = names, Rcpp::Named("steps") = steps,
                              Rcpp::Named("exp_avg") = m, Rcpp::Named("exp_avg_sq") = v);
  });
}

// The rows (target, x, lengths, context) as the trainer takes them, on the
// device of options$device (where the estimator goes too), with the
// standardization fitted on them when asked.
std::vector<torch::Tensor> training_rows(EstimatorImpl& est, const Rcpp::NumericMatrix& target,
                                         SEXP x, const Rcpp::IntegerVector& lengths,
                                         const Rcpp::NumericMatrix& context, const Rcpp::List& options,
                                         bool fit_standardization) {
  set_threads(Rcpp::as<int>(options["threads"]));
  const torch::Device device = as_device(Rcpp::as<std::string>(options["device"]));
  est.to(device);
  torch::Tensor a = matrix_to_tensor(target).to(device);
  DataBatch d = to_device(as_batch(x, lengths, context), device);
  if (fit_standardization) est.fit_standardization(a, d);
  const uint64_t seed = as_seed(Rcpp::as<double>(options["seed"]));
  est.seed_augmentation(seed + 1);
  const double penalty = value_or<double>(options, "summary_penalty", 0.0);
  ConditionNetImpl* embedding = est.data_embedding();
  if (penalty > 0 && embedding == nullptr) Rcpp::stop("a summary penalty needs an estimator of the data's embedding");
  const auto subsets = value_or<int>(options, "subsets_min_length", 0);
  if (subsets > 0 && embedding == nullptr) Rcpp::stop("subsets need an estimator of the data's embedding");
  if (embedding != nullptr) {
    embedding->set_summary_penalty(penalty, seed + 2);
    embedding->set_subsets(subsets, value_or<int>(options, "subsets_length_context", -1), seed + 3,
                           value_or<bool>(options, "subsets_prefixes", false));
  }
  return batch_tensors(a, d);
}

}  // namespace

}  // namespace amortized_glue

using namespace amortized_glue;

// Whether LibTorch sees a CUDA GPU.
// [[Rcpp::export(.amz_cuda_available)]]
bool amz_cuda_available() { return torch::cuda::is_available(); }

// 1 or max_threads: whichever runs inference faster here (measured).
// [[Rcpp::export(.amz_fastest_threads)]]
int amz_fastest_threads(int max_threads) {
  AMZ_GLUE_BEGIN
  return amortized::fastest_threads(max_threads);
  AMZ_GLUE_END
}

// Autograd's state on this thread: whether gradients are recorded and
// whether inference mode is on (training needs TRUE, FALSE).
// [[Rcpp::export(.amz_autograd_state)]]
Rcpp::LogicalVector amz_autograd_state() {
  return Rcpp::LogicalVector::create(Rcpp::Named("grad") = torch::GradMode::is_enabled(),
                                     Rcpp::Named("inference") = c10::InferenceMode::is_enabled());
}

// Allocates n doubles for R inside the guards that sampling holds: for the
// tests of the glue's error path (an allocation that R refuses must reach R
// as an error with the guards undone).
// [[Rcpp::export(.amz_allocate_in_inference_mode)]]
Rcpp::NumericVector amz_allocate_in_inference_mode(double n) {
  AMZ_GLUE_BEGIN
  c10::InferenceMode inference;
  torch::NoGradGuard no_grad;
  return r_numeric(static_cast<int64_t>(n), "the test vector");
  AMZ_GLUE_END
}

// The estimator's kind, size and parts.
// [[Rcpp::export(.amz_estimator_info)]]
Rcpp::List amz_estimator_info(SEXP ptr) {
  AMZ_GLUE_BEGIN
  const EstimatorHandle& h = handle(ptr);
  const double n_parameters = static_cast<double>(count_parameters(*h.module));
  const std::vector<std::string> layers = h.module->describe();
  const int summary_dim = static_cast<int>(h.module->summary_dim());
  return r_safe([&] {
    return Rcpp::List::create(Rcpp::Named("kind") = h.kind, Rcpp::Named("n_parameters") = n_parameters,
                              Rcpp::Named("layers") = layers, Rcpp::Named("summary_dim") = summary_dim);
  });
  AMZ_GLUE_END
}

namespace {

// Trains the estimator behind ptr: run(est, rows, loss, state) calls the
// trainer with the rows of training_rows() (the validation rows, online),
// the estimator's batch loss and the optimizer state from R.
template <typename Run>
Rcpp::List train_estimator(SEXP ptr, const Rcpp::NumericMatrix& target, SEXP x, const Rcpp::IntegerVector& lengths,
                           const Rcpp::NumericMatrix& context, const Rcpp::List& options, bool fit_standardization,
                           SEXP optimizer_state, Run run) {
  EstimatorImpl& est = *handle(ptr).module;
  TrainResult res;
  OptimizerState state;
  {
    TrainingMode training;  // the tensors made here take part in autograd
    state = optimizer_state_from_r(optimizer_state, est);
    auto rows = training_rows(est, target, x, lengths, context, options, fit_standardization);
    BatchLossFn loss = [&](const std::vector<torch::Tensor>& b) { return est.loss(b[0], batch_of(b)); };
    res = run(est, rows, loss, state);
  }
  return train_result(res, state);
}

}  // namespace

// Offline training on fixed simulations (target, x, lengths, context): the
// target is what the estimator models (theta for a posterior).
// [[Rcpp::export(.amz_estimator_train)]]
Rcpp::List amz_estimator_train(SEXP ptr, Rcpp::NumericMatrix target, SEXP x, Rcpp::IntegerVector lengths,
                               Rcpp::NumericMatrix context, Rcpp::List options, bool fit_standardization,
                               Rcpp::Function on_epoch, SEXP optimizer_state) {
  AMZ_GLUE_BEGIN
  return train_estimator(ptr, target, x, lengths, context, options, fit_standardization, optimizer_state,
                         [&](EstimatorImpl& est, const std::vector<torch::Tensor>& rows, const BatchLossFn& loss,
                             OptimizerState& state) {
                           // sets and series: batches of similar lengths (little padding),
                           // where the loss is one term per data set (posteriors, model
                           // classifiers); a likelihood's loss sums over the points of a set,
                           // and batches of long sets would weigh many times more
                           const std::string& kind = handle(ptr).kind;
                           const bool bucket = rows.size() > 2 && rows[2].defined() &&
                                               (kind == "posterior" || kind == "models");
                           return fit(est, loss, rows, train_options(options).bucket_by(bucket ? 2 : -1),
                                      train_hooks(on_epoch), &state);
                         });
  AMZ_GLUE_END
}

// Online training: next_batch(step) returns fresh simulations as
// list(theta (the target), x, lengths, context); the fixed validation
// simulations also fit the standardization (when asked).
// [[Rcpp::export(.amz_estimator_train_online)]]
Rcpp::List amz_estimator_train_online(SEXP ptr, Rcpp::NumericMatrix target, SEXP x, Rcpp::IntegerVector lengths,
                                      Rcpp::NumericMatrix context, Rcpp::List options, bool fit_standardization,
                                      Rcpp::Function next_batch, int steps_per_epoch, Rcpp::Function on_epoch,
                                      SEXP optimizer_state) {
  AMZ_GLUE_BEGIN
  return train_estimator(
      ptr, target, x, lengths, context, options, fit_standardization, optimizer_state,
      [&](EstimatorImpl& est, const std::vector<torch::Tensor>& validation, const BatchLossFn& loss,
          OptimizerState& state) {
        const torch::Device device = validation.front().device();
        auto source = [&next_batch, device](int64_t step) {
          Rcpp::List b = next_batch(static_cast<double>(step));  // an R error here unwinds as a C++ exception
          DataBatch d = to_device(as_batch(b["x"], b["lengths"], b["context"]), device);
          return batch_tensors(matrix_to_tensor(b["theta"]).to(device), d);
        };
        return fit_online(est, loss, source, steps_per_epoch, validation, train_options(options),
                          train_hooks(on_epoch), &state);
      });
  AMZ_GLUE_END
}

// The model's state (every parameter and buffer) as plain R data:
// list(names, shapes (a list of integer vectors), values (all values as
// doubles, each tensor in row-major order, one after the other)). Our own
// layout, independent of LibTorch's serialization format.
// [[Rcpp::export(.amz_estimator_get_state)]]
Rcpp::List amz_estimator_get_state(SEXP ptr) {
  AMZ_GLUE_BEGIN
  EstimatorImpl& est = *handle(ptr).module;
  std::vector<std::pair<std::string, torch::Tensor>> items;
  for (const auto& p : est.named_parameters(true)) items.emplace_back(p.key(), p.value());
  for (const auto& b : est.named_buffers(true)) items.emplace_back(b.key(), b.value());
  int64_t total = 0;
  for (const auto& it : items) total += it.second.numel();
  Rcpp::NumericVector values = r_numeric(total, "the model's state");
  int64_t at = 0;
  for (const auto& it : items) {
    torch::Tensor t = it.second.detach().to(torch::kCPU, torch::kDouble).contiguous();
    std::copy(t.data_ptr<double>(), t.data_ptr<double>() + t.numel(), values.begin() + at);
    at += t.numel();
  }
  return r_safe([&] {
    Rcpp::CharacterVector names(items.size());
    Rcpp::List shapes(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      names[i] = items[i].first;
      auto sizes = items[i].second.sizes();
      shapes[i] = Rcpp::IntegerVector(sizes.begin(), sizes.end());
    }
    return Rcpp::List::create(Rcpp::Named("names") = names, Rcpp::Named("shapes") = shapes,
                              Rcpp::Named("values") = values);
  });
  AMZ_GLUE_END
}

// Sets every parameter and buffer from a state of amz_estimator_get_state(); the
// names and shapes must match the model exactly.
// [[Rcpp::export(.amz_estimator_set_state)]]
void amz_estimator_set_state(SEXP ptr, Rcpp::List state) {
  AMZ_GLUE_BEGIN
  EstimatorImpl& est = *handle(ptr).module;
  Rcpp::CharacterVector names = state["names"];
  Rcpp::List shapes = state["shapes"];
  Rcpp::NumericVector values = state["values"];
  std::map<std::string, std::pair<std::vector<int64_t>, int64_t>> stored;  // name -> (shape, offset)
  int64_t at = 0;
  for (R_xlen_t i = 0; i < names.size(); ++i) {
    Rcpp::IntegerVector shape = shapes[i];
    std::vector<int64_t> sh(shape.begin(), shape.end());
    int64_t count = 1;
    for (int64_t d : sh) count *= d;
    stored[Rcpp::as<std::string>(names[i])] = {sh, at};
    at += count;
  }
  if (at != values.size()) Rcpp::stop("the stored state has %d values; its shapes need %d", values.size(), at);
  std::vector<std::pair<std::string, torch::Tensor>> items;
  for (const auto& p : est.named_parameters(true)) items.emplace_back(p.key(), p.value());
  for (const auto& b : est.named_buffers(true)) items.emplace_back(b.key(), b.value());
  if (items.size() != stored.size()) {
    Rcpp::stop("the stored state has %d tensors; the model has %d", static_cast<int>(stored.size()),
               static_cast<int>(items.size()));
  }
  torch::NoGradGuard no_grad;
  for (auto& it : items) {
    auto found = stored.find(it.first);
    if (found == stored.end()) Rcpp::stop("the stored state lacks the model's tensor \"" + it.first + "\"");
    if (found->second.first != it.second.sizes().vec()) {
      Rcpp::stop("the stored tensor \"" + it.first + "\" has shape " + shape_string(found->second.first) +
                 ", the model's " + shape_string(it.second.sizes().vec()));
    }
    torch::Tensor src = torch::from_blob(values.begin() + found->second.second, {it.second.numel()}, torch::kDouble);
    it.second.copy_(src.reshape(it.second.sizes()));
  }
  est.eval();
  AMZ_GLUE_END
}

// The learned summary statistics of every row of x (any estimator with a
// data embedding: posterior, joint, model classifier) (with a summary or
// fusion network), or the flat data's (canonical, standardized) features.
// [[Rcpp::export(.amz_summaries)]]
Rcpp::NumericMatrix amz_summaries(SEXP ptr, SEXP x, Rcpp::IntegerVector lengths, Rcpp::NumericMatrix context,
                                      int threads, std::string device) {
  AMZ_GLUE_BEGIN
  EstimatorImpl& est = *handle(ptr).module;
  ConditionNetImpl* e = est.data_embedding();
  if (e == nullptr) Rcpp::stop("the amortizer's " + handle(ptr).kind + " estimator has no data embedding");
  prepare_inference(est, threads, device);
  DataBatch data = as_batch(x, lengths, context);
  ConditionNetImpl& embedding = *e;
  const int64_t k = embedding.summary_dim() > 0 ? embedding.summary_dim() : embedding.data_dim();
  torch::Tensor summaries;
  {
    c10::InferenceMode inference;  // no autograd bookkeeping at all (faster than NoGradGuard)
    std::vector<torch::Tensor> parts;
    for_chunks(rows(data), 64, [&](int64_t start, int64_t len) {
      parts.push_back(embedding.forward(to_device(narrow(data, start, len), device_of(est))).narrow(1, 0, k)
                          .to(torch::kCPU));
    });
    summaries = torch::cat(parts, 0).to(torch::kDouble);
  }
  return tensor_to_matrix(summaries, "the learned summaries");
  AMZ_GLUE_END
}

// For tests: the interrupt check after `checks` more checks reports an
// interrupt, as Ctrl-C would (-1: cancel).
// [[Rcpp::export(.amz_inject_interrupt)]]
void amz_inject_interrupt(int checks) { interrupt_countdown = checks; }
