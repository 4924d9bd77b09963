#' An ensemble of inference networks
#'
#' A deep ensemble: `members` copies of an inference network, each with its
#' own initial weights, trained side by side on the same batches (each on
#' its own loss). The posterior is their equal-weight mixture: its density
#' is the members' mean density, and each draw comes from a member chosen
#' at random. Ensembles average out the errors of single networks (a few
#' hundredths of C2ST on the standard benchmarks) at `members` times the
#' training cost and about the same sampling cost; early stopping watches
#' the members' mean validation loss.
#'
#' @param inference_net The member network: [coupling_flow()] (default) or
#'   [flow_matching()].
#' @param members Number of members (>= 2).
#' @return An `amortized_inference_net` specification for [amortizer()].
#' @family networks
#' @examples
#' ensemble(coupling_flow(), members = 3)
#' amortizer(ensemble(members = 3))
#' @export
ensemble <- function(inference_net = coupling_flow(), members = 5) {
  if (!inherits(inference_net, "amortized_inference_net") || identical(inference_net$type, "ensemble")) {
    cli::cli_abort(c("{.arg inference_net} must be an inference network such as {.code coupling_flow()} (not an ensemble).",
                     "x" = "Got {describe_value(inference_net)}."), class = "amortized_error_argument")
  }
  structure(list(type = "ensemble", member = inference_net, members = check_count(members, min = 2)),
            class = "amortized_inference_net")
}
