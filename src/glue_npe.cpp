// Rcpp glue for neural posterior estimation: build, train, sample,
// serialize. Converts R objects and calls the core; nothing else.
#include "glue.h"

#include "amortized/diagnostics/sbc.h"
#include "amortized/estimators/posterior_estimator.h"
#include "amortized/flows/coupling_flow.h"
#include "amortized/flows/ensemble.h"
#include "amortized/flows/flow_matching.h"
#include "amortized/summary/deep_set.h"
#include "amortized/summary/fusion.h"
#include "amortized/summary/set_transformer.h"
#include "amortized/summary/time_series.h"
#include "amortized/train/trainer.h"

#include <Rinternals.h>
#include <R_ext/Utils.h>

#include <algorithm>
#include <map>
#include <memory>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>

using namespace amortized;
using namespace amortized_glue;

namespace {

using NpeHandle = PosteriorEstimator;
using NpePtr = Rcpp::XPtr<NpeHandle>;

NpeHandle& handle(SEXP ptr) {
  NpePtr p(ptr);
  if (p.get() == nullptr) Rcpp::stop("the amortizer's model is not built (null pointer)");
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

// The estimator behind ptr on `device`, in eval mode, with LibTorch on
// `threads` threads.
NpeHandle& for_inference(SEXP ptr, int threads, const std::string& device) {
  auto& est = handle(ptr);
  set_threads(threads);
  est->to(as_device(device));
  est->eval();
  return est;
}

torch::Device device_of(NpeHandle& est) { return est->parameters().front().device(); }

std::vector<int64_t> as_int64(const Rcpp::IntegerVector& v) {
  return std::vector<int64_t>(v.begin(), v.end());
}

void check_interrupt_fn(void*) { R_CheckUserInterrupt(); }
// True when the user pressed Ctrl-C (without jumping out of C++).
bool user_interrupted() { return R_ToplevelExec(check_interrupt_fn, nullptr) == FALSE; }

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

// The estimator's batch from R: data (matrix or array), lengths (integer,
// empty: all points valid), context (matrix, 0 columns: none). Multi-source
// data come as x = list(flat = matrix (maybe 0 columns), sources =
// list(list(x = array, lengths = integer), ...)).
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

// f applied to every tensor of a batch (undefined ones stay so).
template <typename F>
DataBatch map_batch(const DataBatch& b, F f) {
  auto g = [&](const torch::Tensor& t) { return t.defined() ? f(t) : t; };
  DataBatch out{g(b.x), g(b.lengths), g(b.context)};
  for (const auto& s : b.sources) out.sources.push_back({g(s.x), g(s.lengths)});
  return out;
}

DataBatch narrow(const DataBatch& b, int64_t start, int64_t len) {
  return map_batch(b, [&](const torch::Tensor& t) { return t.narrow(0, start, len); });
}

DataBatch to_device(const DataBatch& b, torch::Device device) {
  return map_batch(b, [&](const torch::Tensor& t) { return t.to(device); });
}

// A batch as the trainer's row tensors (after theta): x, lengths, context,
// then x and lengths of each source; and back.
std::vector<torch::Tensor> batch_tensors(const torch::Tensor& theta, const DataBatch& b) {
  std::vector<torch::Tensor> out = {theta, b.x, b.lengths, b.context};
  for (const auto& s : b.sources) {
    out.push_back(s.x);
    out.push_back(s.lengths);
  }
  return out;
}

DataBatch batch_of(const std::vector<torch::Tensor>& t) {
  DataBatch b{t[1], t[2], t[3]};
  for (size_t k = 4; k + 1 < t.size(); k += 2) b.sources.push_back({t[k], t[k + 1]});
  return b;
}

// Runs f on row chunks of x so that chunk * n_draws stays near 2^20 rows.
template <typename F>
void for_chunks(int64_t n, int64_t n_draws, F f) {
  const int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 20) / std::max<int64_t>(n_draws, 1));
  for (int64_t start = 0; start < n; start += chunk) f(start, std::min(chunk, n - start));
}

// The summary network of an R spec (a list with `type`).
std::shared_ptr<SummaryNetImpl> make_summary_net(const Rcpp::List& spec, int64_t input_dim, at::Generator& gen) {
  const std::string type = Rcpp::as<std::string>(spec["type"]);
  const int64_t out = Rcpp::as<int>(spec["summary_dim"]);
  std::shared_ptr<SummaryNetImpl> net;
  if (type == "deep_set") {
    net = std::make_shared<DeepSetImpl>(DeepSetOptions(input_dim, out)
                                            .width(Rcpp::as<int>(spec["width"]))
                                            .equivariant_layers(Rcpp::as<int>(spec["equivariant_layers"]))
                                            .hidden(as_int64(spec["hidden"]))
                                            .activation(Rcpp::as<std::string>(spec["activation"])));
  } else if (type == "set_transformer") {
    net = std::make_shared<SetTransformerImpl>(SetTransformerOptions(input_dim, out)
                                                   .width(Rcpp::as<int>(spec["width"]))
                                                   .heads(Rcpp::as<int>(spec["heads"]))
                                                   .blocks(Rcpp::as<int>(spec["blocks"]))
                                                   .inducing_points(Rcpp::as<int>(spec["inducing_points"]))
                                                   .seeds(Rcpp::as<int>(spec["seeds"])));
  } else if (type == "time_series_net") {
    net = std::make_shared<TimeSeriesNetImpl>(TimeSeriesNetOptions(input_dim, out)
                                                  .filters(as_int64(spec["filters"]))
                                                  .kernel_size(Rcpp::as<int>(spec["kernel_size"]))
                                                  .strides(as_int64(spec["strides"]))
                                                  .hidden(Rcpp::as<int>(spec["hidden"]))
                                                  .cell(Rcpp::as<std::string>(spec["cell"])));
  } else if (type == "time_series_transformer") {
    net = std::make_shared<TimeSeriesTransformerImpl>(
        TimeSeriesTransformerOptions(input_dim, out)
            .width(Rcpp::as<int>(spec["width"]))
            .heads(Rcpp::as<int>(spec["heads"]))
            .blocks(Rcpp::as<int>(spec["blocks"]))
            .time_frequencies(Rcpp::as<int>(spec["time_frequencies"]))
            .patch_size(Rcpp::as<int>(spec["patch_size"])));
  } else {
    Rcpp::stop("unknown summary network type \"" + type + "\"");
  }
  net->reset_parameters(gen);
  return net;
}

// The inference network of an R spec (a list with `type`) for dim
// parameters and a context of the given width.
std::shared_ptr<InferenceNetImpl> make_inference_net(const Rcpp::List& spec, int64_t dim, int64_t context,
                                                     at::Generator& gen) {
  const std::string type = Rcpp::as<std::string>(spec["type"]);
  if (type == "coupling_flow") {
    return make_coupling_flow(CouplingFlowOptions(dim, context)
                                  .transform(Rcpp::as<std::string>(spec["transform"]))
                                  .n_layers(Rcpp::as<int>(spec["n_layers"]))
                                  .hidden(as_int64(spec["hidden"]))
                                  .activation(Rcpp::as<std::string>(spec["activation"]))
                                  .clamp(Rcpp::as<double>(spec["clamp"]))
                                  .bins(spec.containsElementNamed("bins") ? Rcpp::as<int>(spec["bins"]) : 10)
                                  .tail_bound(spec.containsElementNamed("tail_bound")
                                                  ? Rcpp::as<double>(spec["tail_bound"])
                                                  : 3.0)
                                  .actnorm(Rcpp::as<bool>(spec["actnorm"])),
                              gen)
        .ptr();
  }
  if (type == "flow_matching") {
    auto fm = std::make_shared<FlowMatchingImpl>(FlowMatchingOptions(dim, context)
                                                     .hidden(as_int64(spec["hidden"]))
                                                     .activation(Rcpp::as<std::string>(spec["activation"]))
                                                     .time_frequencies(Rcpp::as<int>(spec["time_frequencies"]))
                                                     .sigma_min(Rcpp::as<double>(spec["sigma_min"]))
                                                     .steps(Rcpp::as<int>(spec["steps"]))
                                                     .solver(spec.containsElementNamed("solver")
                                                                 ? Rcpp::as<std::string>(spec["solver"])
                                                                 : std::string("rk4"))
                                                     .tolerance(spec.containsElementNamed("tolerance")
                                                                    ? Rcpp::as<double>(spec["tolerance"])
                                                                    : 1e-5));
    fm->reset_parameters(gen);
    return fm;
  }
  if (type == "ensemble") {  // members built one after the other from gen: different initial weights
    const int members = Rcpp::as<int>(spec["members"]);
    std::vector<std::shared_ptr<InferenceNetImpl>> nets;
    for (int k = 0; k < members; ++k) nets.push_back(make_inference_net(spec["member"], dim, context, gen));
    return std::make_shared<EnsembleImpl>(nets);
  }
  Rcpp::stop("unknown inference network type \"" + type + "\"");
}

}  // namespace

// spec: the inference net; summary: NULL or the summary net; config: the
// estimator's dimensions and options (see PosteriorEstimatorOptions).
// Whether LibTorch sees a CUDA GPU.
// [[Rcpp::export(.amz_cuda_available)]]
bool amz_cuda_available() { return torch::cuda::is_available(); }

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

// [[Rcpp::export(.amz_npe_new)]]
SEXP amz_npe_new(Rcpp::List spec, SEXP summary, Rcpp::List config, double seed) {
  AMZ_GLUE_BEGIN
  // the weights must be ordinary tensors that training can differentiate
  c10::InferenceMode not_inference(false);
  torch::AutoGradMode grad_on(true);
  auto gen = make_generator(as_seed(seed));
  Rcpp::IntegerVector set_shape = config["set_shape"];
  auto o = PosteriorEstimatorOptions(Rcpp::as<int>(config["dim_theta"]), Rcpp::as<int>(config["dim_x"]))
               .set_shape(std::vector<int64_t>(set_shape.begin(), set_shape.end()))
               .linear_residual(Rcpp::as<bool>(config["linear_residual"]))
               .dim_context(Rcpp::as<int>(config["dim_context"]))
               .variable_length(Rcpp::as<bool>(config["variable_length"]))
               .standardize_theta(Rcpp::as<bool>(config["standardize_parameters"]))
               .standardize_x(Rcpp::as<bool>(config["standardize_data"]))
               .lower(Rcpp::as<std::vector<double>>(config["lower"]))
               .upper(Rcpp::as<std::vector<double>>(config["upper"]));
  // set_features is absent from models trained with the mean products (1)
  o.set_features(config.containsElementNamed("set_features") ? Rcpp::as<int>(config["set_features"]) : 1);
  if (config.containsElementNamed("symmetric")) {  // absent from models saved by amortized 0.1.0
    Rcpp::IntegerVector sym = config["symmetric"];
    o.symmetric(std::vector<int64_t>(sym.begin(), sym.end()));
  }
  if (config.containsElementNamed("rotation")) {  // likewise
    o.rotation(Rcpp::as<std::vector<double>>(config["rotation"]));
  }
  if (config.containsElementNamed("truncate_lower")) {  // likewise
    o.truncate_lower(Rcpp::as<std::vector<double>>(config["truncate_lower"]))
        .truncate_upper(Rcpp::as<std::vector<double>>(config["truncate_upper"]));
  }
  if (config.containsElementNamed("equivariances")) {  // list(list(theta =, x =), ...); absent from older models
    Rcpp::List eq = config["equivariances"];
    std::vector<Equivariance> group;
    for (R_xlen_t k = 0; k < eq.size(); ++k) {
      Rcpp::List e = eq[k];
      Rcpp::IntegerVector t = e["theta"], x = e["x"];
      group.push_back({std::vector<int64_t>(t.begin(), t.end()), std::vector<int64_t>(x.begin(), x.end())});
    }
    o.equivariances(group);
  }
  std::shared_ptr<SummaryNetImpl> summary_net;
  FusionNet fusion{nullptr};
  int64_t summary_dim = 0;
  if (!Rf_isNull(summary)) {
    Rcpp::List sl(summary);
    if (Rcpp::as<std::string>(sl["type"]) == "fusion") {  // one net per source, input widths in the config
      Rcpp::List nets = sl["nets"];
      Rcpp::IntegerVector dims = config["source_dims"];
      if (dims.size() != nets.size()) Rcpp::stop("the fusion network needs one input width per source");
      std::vector<std::shared_ptr<SummaryNetImpl>> parts;
      for (R_xlen_t k = 0; k < nets.size(); ++k) parts.push_back(make_summary_net(nets[k], dims[k], gen));
      fusion = FusionNet(parts, Rcpp::as<std::vector<std::string>>(nets.names()));
      o.sources(fusion->size());
      summary_dim = fusion->output_dim();
    } else {
      summary_net = make_summary_net(sl, o.dim_x(), gen);
      summary_dim = summary_net->output_dim();
    }
  }
  const int64_t context = PosteriorEstimatorImpl::context_width(o, summary_dim);
  std::shared_ptr<amortized::InferenceNetImpl> net = make_inference_net(spec, o.dim_theta(), context, gen);
  std::unique_ptr<NpeHandle> est(fusion.is_empty() ? new NpeHandle(net, summary_net, o)
                                                   : new NpeHandle(net, fusion, o));
  (*est)->eval();
  SEXP out = r_safe([&] { return NpePtr(est.get(), true); });
  est.release();  // owned by R's external pointer from now on
  return out;
  AMZ_GLUE_END
}

// [[Rcpp::export(.amz_npe_info)]]
Rcpp::List amz_npe_info(SEXP ptr) {
  AMZ_GLUE_BEGIN
  auto& est = handle(ptr);
  const double n_parameters = static_cast<double>(count_parameters(*est));
  const std::vector<std::string> layers = est->describe();
  const int summary_dim = static_cast<int>(est->summary_dim());
  return r_safe([&] {
    return Rcpp::List::create(Rcpp::Named("n_parameters") = n_parameters, Rcpp::Named("layers") = layers,
                              Rcpp::Named("summary_dim") = summary_dim);
  });
  AMZ_GLUE_END
}

namespace {

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
      .ema_decay(options.containsElementNamed("ema_decay") ? Rcpp::as<double>(options["ema_decay"]) : 0.0)
      .anneal_epochs(options.containsElementNamed("anneal_epochs") ? Rcpp::as<int>(options["anneal_epochs"]) : 0);
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
      Rcpp::Named("best_epoch") = static_cast<int>(res.best_epoch),
      Rcpp::Named("stop_reason") = res.stop_reason,
      Rcpp::Named("skipped_batches") = static_cast<double>(res.skipped_batches),
      Rcpp::Named("optimizer_state") = optimizer);
  });
}

// AdamW state from R: NULL, or list(names, steps, exp_avg, exp_avg_sq) with
// the two moment vectors of the named parameters, one after the other.
OptimizerState optimizer_state_from_r(SEXP r, NpeHandle& est) {
  OptimizerState out;
  if (Rf_isNull(r)) return out;
  Rcpp::List l(r);
  Rcpp::CharacterVector names = l["names"];
  Rcpp::NumericVector steps = l["steps"], m = l["exp_avg"], v = l["exp_avg_sq"];
  std::map<std::string, torch::Tensor> params;
  for (const auto& p : est->named_parameters(true)) params[p.key()] = p.value();
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

// The rows (theta, x, lengths, context) as the trainer takes them, on the
// device of options$device (where the estimator goes too), with the
// standardization fitted on them when asked.
std::vector<torch::Tensor> training_rows(NpeHandle& est, const Rcpp::NumericMatrix& theta,
                                         SEXP x, const Rcpp::IntegerVector& lengths,
                                         const Rcpp::NumericMatrix& context, const Rcpp::List& options,
                                         bool fit_standardization) {
  set_threads(Rcpp::as<int>(options["threads"]));
  const torch::Device device = as_device(Rcpp::as<std::string>(options["device"]));
  est->to(device);
  torch::Tensor a = matrix_to_tensor(theta).to(device);
  DataBatch d = to_device(as_batch(x, lengths, context), device);
  if (fit_standardization) est->fit_standardization(a, d);
  est->seed_augmentation(as_seed(Rcpp::as<double>(options["seed"])) + 1);
  return batch_tensors(a, d);
}

}  // namespace

// Offline training on fixed simulations (theta, x, lengths, context).
// [[Rcpp::export(.amz_npe_train)]]
Rcpp::List amz_npe_train(SEXP ptr, Rcpp::NumericMatrix theta, SEXP x, Rcpp::IntegerVector lengths,
                         Rcpp::NumericMatrix context, Rcpp::List options, bool fit_standardization,
                         Rcpp::Function on_epoch, SEXP optimizer_state) {
  AMZ_GLUE_BEGIN
  auto& est = handle(ptr);
  TrainResult res;
  OptimizerState state;
  {
    TrainingMode training;  // the tensors made here take part in autograd
    state = optimizer_state_from_r(optimizer_state, est);
    auto rows = training_rows(est, theta, x, lengths, context, options, fit_standardization);
    auto loss = [&](const std::vector<torch::Tensor>& b) { return est->loss(b[0], batch_of(b)); };
    res = fit(*est, loss, rows, train_options(options), train_hooks(on_epoch), &state);
  }
  return train_result(res, state);
  AMZ_GLUE_END
}

// Online training: next_batch(step) returns fresh simulations as
// list(theta, x, lengths, context); the fixed validation simulations also
// fit the standardization (when asked).
// [[Rcpp::export(.amz_npe_train_online)]]
Rcpp::List amz_npe_train_online(SEXP ptr, Rcpp::NumericMatrix theta, SEXP x,
                                Rcpp::IntegerVector lengths, Rcpp::NumericMatrix context, Rcpp::List options,
                                bool fit_standardization, Rcpp::Function next_batch, int steps_per_epoch,
                                Rcpp::Function on_epoch, SEXP optimizer_state) {
  AMZ_GLUE_BEGIN
  auto& est = handle(ptr);
  TrainResult res;
  OptimizerState state;
  {
    TrainingMode training;  // the tensors made here take part in autograd
    state = optimizer_state_from_r(optimizer_state, est);
    auto validation = training_rows(est, theta, x, lengths, context, options, fit_standardization);
    const torch::Device device = validation.front().device();
    auto source = [&next_batch, device](int64_t step) {
      Rcpp::List b = next_batch(static_cast<double>(step));  // an R error here unwinds as a C++ exception
      DataBatch d = to_device(as_batch(b["x"], b["lengths"], b["context"]), device);
      return batch_tensors(matrix_to_tensor(b["theta"]).to(device), d);
    };
    auto loss = [&](const std::vector<torch::Tensor>& b) { return est->loss(b[0], batch_of(b)); };
    res = fit_online(*est, loss, source, steps_per_epoch, validation, train_options(options), train_hooks(on_epoch),
                     &state);
  }
  return train_result(res, state);
  AMZ_GLUE_END
}

// log q(theta_i | x_i) on the original scale for each row i.
// [[Rcpp::export(.amz_npe_log_prob)]]
Rcpp::NumericVector amz_npe_log_prob(SEXP ptr, Rcpp::NumericMatrix theta, SEXP x,
                                     Rcpp::IntegerVector lengths, Rcpp::NumericMatrix context, int threads,
                                     std::string device) {
  AMZ_GLUE_BEGIN
  auto& est = for_inference(ptr, threads, device);
  const torch::Device dev = device_of(est);
  torch::Tensor t = matrix_to_tensor(theta).to(dev);
  DataBatch data = to_device(as_batch(x, lengths, context), dev);
  torch::Tensor lp;
  {
    torch::NoGradGuard no_grad;
    lp = est->log_prob(t, data);
  }
  return tensor_to_vector(lp, "the log densities");
  AMZ_GLUE_END
}

// Draws for every row of x; returns an array [n_draws, n_obs, dim_theta].
// [[Rcpp::export(.amz_npe_sample)]]
Rcpp::NumericVector amz_npe_sample(SEXP ptr, SEXP x, Rcpp::IntegerVector lengths,
                                   Rcpp::NumericMatrix context, int n_draws, double seed, int threads,
                                   std::string device) {
  AMZ_GLUE_BEGIN
  auto& est = for_inference(ptr, threads, device);
  auto gen = make_generator(as_seed(seed));
  DataBatch data = as_batch(x, lengths, context);
  const int64_t n_obs = PosteriorEstimatorImpl::rows(data), dim = est->dim_theta();
  Rcpp::NumericVector out = r_array<REALSXP>({n_draws, n_obs, dim}, "the draws");
  double* dst = out.begin();
  {
    c10::InferenceMode inference;  // no autograd bookkeeping at all (faster than NoGradGuard); no R calls inside
    // out[d + n_draws * (i + n_obs * p)]: per chunk of observations, copy
    // draws [chunk, n_draws, dim] into place parameter by parameter.
    for_chunks(n_obs, n_draws, [&](int64_t start, int64_t len) {
      torch::Tensor draws = est->sample(n_draws, to_device(narrow(data, start, len), device_of(est)), gen)
                                .permute({2, 0, 1}).to(torch::kCPU, torch::kDouble).contiguous();  // [dim, len, n_draws]
      const double* src = draws.data_ptr<double>();
      for (int64_t p = 0; p < dim; ++p) {
        std::copy(src + p * len * n_draws, src + (p + 1) * len * n_draws, dst + n_draws * (start + n_obs * p));
      }
    });
  }
  return out;
  AMZ_GLUE_END
}

// Ranks of theta among n_draws posterior draws given x, row by row.
// [[Rcpp::export(.amz_npe_sbc_ranks)]]
Rcpp::IntegerMatrix amz_npe_sbc_ranks(SEXP ptr, Rcpp::NumericMatrix theta, SEXP x,
                                      Rcpp::IntegerVector lengths, Rcpp::NumericMatrix context, int n_draws,
                                      double seed, int threads, std::string device) {
  AMZ_GLUE_BEGIN
  auto& est = for_inference(ptr, threads, device);
  auto gen = make_generator(as_seed(seed));
  torch::Tensor tt = matrix_to_tensor(theta);
  DataBatch data = as_batch(x, lengths, context);
  const int64_t n = PosteriorEstimatorImpl::rows(data);
  torch::Tensor ranks;  // [dim, n]
  {
    c10::InferenceMode inference;  // no autograd bookkeeping at all (faster than NoGradGuard)
    std::vector<torch::Tensor> parts;
    for_chunks(n, n_draws, [&](int64_t start, int64_t len) {
      const torch::Device dev = device_of(est);
      parts.push_back(sbc_ranks(est->sample(n_draws, to_device(narrow(data, start, len), dev), gen),
                                tt.narrow(0, start, len).to(dev))
                          .to(torch::kCPU));
    });
    ranks = torch::cat(parts, 0).to(torch::kInt).t().contiguous();
  }
  Rcpp::IntegerMatrix out(r_array<INTSXP>({n, est->dim_theta()}, "the ranks"));
  std::copy(ranks.data_ptr<int>(), ranks.data_ptr<int>() + ranks.numel(), out.begin());
  return out;
  AMZ_GLUE_END
}

// What the inference net is conditioned on, row by row: the learned
// summaries (or standardized flat data), then the extra context.
// [[Rcpp::export(.amz_npe_condition)]]
Rcpp::NumericMatrix amz_npe_condition(SEXP ptr, SEXP x, Rcpp::IntegerVector lengths,
                                      Rcpp::NumericMatrix context, int threads, std::string device) {
  AMZ_GLUE_BEGIN
  auto& est = for_inference(ptr, threads, device);
  DataBatch data = as_batch(x, lengths, context);
  torch::Tensor condition;
  {
    c10::InferenceMode inference;  // no autograd bookkeeping at all (faster than NoGradGuard)
    std::vector<torch::Tensor> parts;
    for_chunks(PosteriorEstimatorImpl::rows(data), 64, [&](int64_t start, int64_t len) {
      parts.push_back(est->condition(to_device(narrow(data, start, len), device_of(est))).to(torch::kCPU));
    });
    condition = torch::cat(parts, 0).to(torch::kDouble);
  }
  return tensor_to_matrix(condition, "the learned summaries");
  AMZ_GLUE_END
}

// The model's state (every parameter and buffer) as plain R data:
// list(names, shapes (a list of integer vectors), values (all values as
// doubles, each tensor in row-major order, one after the other)). Our own
// layout, independent of LibTorch's serialization format.
// [[Rcpp::export(.amz_npe_get_state)]]
Rcpp::List amz_npe_get_state(SEXP ptr) {
  AMZ_GLUE_BEGIN
  auto& est = handle(ptr);
  std::vector<std::pair<std::string, torch::Tensor>> items;
  for (const auto& p : est->named_parameters(true)) items.emplace_back(p.key(), p.value());
  for (const auto& b : est->named_buffers(true)) items.emplace_back(b.key(), b.value());
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

// Sets every parameter and buffer from a state of amz_npe_get_state(); the
// names and shapes must match the model exactly.
// [[Rcpp::export(.amz_npe_set_state)]]
void amz_npe_set_state(SEXP ptr, Rcpp::List state) {
  AMZ_GLUE_BEGIN
  auto& est = handle(ptr);
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
  for (const auto& p : est->named_parameters(true)) items.emplace_back(p.key(), p.value());
  for (const auto& b : est->named_buffers(true)) items.emplace_back(b.key(), b.value());
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
  est->eval();
  AMZ_GLUE_END
}
