// Builds the networks of an amortizer's R spec.
#include "glue/networks.h"
#include "glue/glue.h"

#include "amortized/flows/coupling_flow.h"
#include "amortized/flows/ensemble.h"
#include "amortized/flows/flow_matching.h"
#include "amortized/summary/deep_set.h"
#include "amortized/summary/fusion.h"
#include "amortized/summary/set_transformer.h"
#include "amortized/summary/time_series.h"

#include <string>
#include <vector>

using namespace amortized;

namespace amortized_glue {

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
                                            .activation(Rcpp::as<std::string>(spec["activation"]))
                                            .moments(flag(spec, "moments")));
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
                                                  .cell(Rcpp::as<std::string>(spec["cell"]))
                                                  .moment_lags(value_or<int>(spec, "moment_lags", -1)));
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
                                  .bins(Rcpp::as<int>(spec["bins"]))
                                  .tail_bound(Rcpp::as<double>(spec["tail_bound"]))
                                  .actnorm(Rcpp::as<bool>(spec["actnorm"]))
                                  // files from before dropout existed have none
                                  .dropout(value_or<double>(spec, "dropout", 0.0))
                                  // nor a conditional affine map
                                  .conditional_affine(flag(spec, "conditional_affine")),
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
                                                     .solver(Rcpp::as<std::string>(spec["solver"]))
                                                     .tolerance(Rcpp::as<double>(spec["tolerance"])));
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

ConditionNet make_embedding(SEXP summary, const ConditionNetOptions& options, const Rcpp::IntegerVector& source_dims,
                            at::Generator& gen) {
  if (Rf_isNull(summary)) return ConditionNet(options, std::shared_ptr<SummaryNetImpl>());
  Rcpp::List spec(summary);
  if (Rcpp::as<std::string>(spec["type"]) != "fusion") {
    return ConditionNet(options, make_summary_net(spec, options.dim_x(), gen));
  }
  Rcpp::List nets = spec["nets"];  // one net per source
  if (source_dims.size() != nets.size()) Rcpp::stop("the fusion network needs one input width per source");
  std::vector<std::shared_ptr<SummaryNetImpl>> parts;
  for (R_xlen_t k = 0; k < nets.size(); ++k) parts.push_back(make_summary_net(nets[k], source_dims[k], gen));
  return ConditionNet(options, FusionNet(parts, Rcpp::as<std::vector<std::string>>(nets.names())));
}

}  // namespace amortized_glue
