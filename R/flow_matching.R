#' Flow matching as inference network
#'
#' Describes a conditional flow-matching estimator (Lipman et al., 2023)
#' with optimal-transport paths: a velocity network v(theta_t, t, x) is
#' trained to carry standard normal noise along straight lines to the
#' parameters; sampling integrates that ODE from noise to the posterior
#' with a fixed-step Runge-Kutta (RK4) scheme or the adaptive
#' Dormand-Prince 5(4) pair. Densities use the instantaneous change of
#' variables with the exact divergence. [train()] averages the weights
#' (`ema = 0.999`) by default for flow matching.
#'
#' Flow matching is flexible (it needs no invertible architecture) but
#' slower to sample than a [coupling_flow()]: each draw takes `4 * steps`
#' passes through the velocity network with RK4, 6 per accepted step with
#' `"dopri5"` (which takes as many steps as `tolerance` needs, one step
#' size for the whole batch).
#'
#' @param hidden Widths of the hidden layers of the velocity MLP.
#' @param activation `"silu"`, `"relu"`, `"gelu"`, `"elu"` or `"tanh"`.
#' @param time_frequencies Fourier frequencies of the time embedding (t,
#'   sin(2^k pi t), cos(2^k pi t) for k < `time_frequencies`).
#' @param sigma_min Width of the probability path at t = 1, in \[0, 1).
#' @param steps RK4 steps from noise to posterior (>= 1).
#' @param solver `"rk4"` (fixed steps) or `"dopri5"` (adaptive).
#' @param tolerance For `"dopri5"`: the relative and absolute error allowed
#'   per step (> 0).
#' @return An `amortized_inference_net` specification for [amortizer()].
#' @family networks
#' @examples
#' flow_matching(hidden = rep(128, 4), steps = 30)
#' flow_matching(solver = "dopri5", tolerance = 1e-4)
#' @export
flow_matching <- function(hidden = rep(256, 5), activation = "silu", time_frequencies = 4,
                          sigma_min = 1e-4, steps = 50, solver = c("rk4", "dopri5"), tolerance = 1e-5) {
  hidden <- check_widths(hidden)
  activation <- check_activation(activation)
  time_frequencies <- check_count(time_frequencies, min = 0)
  sigma_min <- check_number(sigma_min, lower = 0, upper = 1, upper_open = TRUE)
  steps <- check_count(steps)
  solver <- check_choice(solver, c("rk4", "dopri5"))
  tolerance <- check_number(tolerance, lower = 0, lower_open = TRUE)
  structure(list(type = "flow_matching", hidden = hidden, activation = activation,
                 time_frequencies = time_frequencies, sigma_min = sigma_min, steps = steps, solver = solver,
                 tolerance = tolerance),
            class = "amortized_inference_net")
}
