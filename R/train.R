#' Train an amortizer on simulations
#'
#' Simulates `n_sims` parameter/data pairs (or takes a ready
#' `amortized_simulations` object) and fits the amortizer's neural posterior
#' estimator by minimizing -log q(theta | x): AdamW with a warm-up and cosine
#' learning-rate schedule, gradient-norm clipping, and early stopping on a
#' held-out validation split that restores the best weights. Parameters and
#' data are standardized internally; draws come back on the original scale.
#'
#' Press Ctrl-C (Esc in RStudio) to stop: training ends cleanly after the
#' current batch and returns the best model so far.
#'
#' Training an already trained amortizer continues from its weights, its
#' standardization and its optimizer state (AdamW moments), appending to its
#' history; the learning-rate schedule starts anew. (A file of
#' [save_amortizer()] keeps no optimizer state: training a loaded amortizer
#' starts a fresh optimizer.)
#'
#' **Modes**, picked from the arguments:
#' * *offline* (default): `n_sims` simulations are drawn once (or
#'   `simulator` is a ready `amortized_simulations` object) and every epoch
#'   passes over them;
#' * *online* (`online = TRUE`, a simulator): every training step simulates a
#'   fresh batch, so no simulation is seen twice and nothing large is held in
#'   memory; an epoch is `steps_per_epoch` steps, and `n_sims *
#'   validation_fraction` simulations drawn at the start serve for
#'   validation and standardization. Context variables (e.g. `n_obs`) get a
#'   new value every batch. Best for fast simulators;
#' * *rounds* (`rounds = k > 1`, a simulator): simulate `n_sims`, train
#'   `epochs` epochs, then repeat with `n_sims` more, keeping all
#'   simulations, `k` times; training continues from the weights of the
#'   previous round.
#'
#' @param object An [amortizer()].
#' @param simulator An `amortized_simulator` ([simulator()],
#'   [benchmark_simulator()]), an `amortized_simulations` object
#'   ([simulate()][simulate.amortized_simulator]), or the directory of a
#'   finished simulation store (`simulate(..., store = )`).
#' @param n_sims Number of simulations to draw (ignored for simulations).
#' @param epochs Maximum number of passes over the training data. `NULL`
#'   (default): 150; 75 for posteriors from set or series data (with a
#'   summary network), which train on larger batches with weight averaging
#'   and were as accurate after 75 as after 150 in `bench/summary_nets.R`
#'   (in half the time).
#' @param batch_size Simulations per gradient step; `NULL` (default): for
#'   posterior estimation about 1/128 of the training split, a power of two
#'   from 32 to 256 (64 for 10,000 simulations, 256 from about 26,000), and
#'   with a summary network (set or series data) 1/32 of it, from 64 to 512
#'   (256 for 10,000 simulations); for the other estimators 1/20 of it, from
#'   32 to 512.
#' @param learning_rate Peak learning rate.
#' @param schedule Learning rate after a short linear warm-up (2% of the
#'   steps): `"cosine"` (default; decays to 0 by the last epoch),
#'   `"constant"`, or `"step"` (halved every `step_epochs` epochs).
#' @param step_epochs For `schedule = "step"`: epochs between halvings.
#' @param validation_fraction Share of simulations held out for validation and
#'   early stopping, in \[0, 0.5\].
#' @param patience Epochs without improvement before stopping (0: never stop
#'   early).
#' @param anneal Epochs of annealing after early stopping: when the
#'   validation loss has not improved for `patience` epochs before the
#'   schedule has run its course (the learning rate is still high),
#'   training goes on from the best weights for `anneal` more epochs with
#'   the learning rate decaying from its current value to 0 (cosine), and
#'   keeps the best validated weights. `NULL` (default): `ceiling(patience /
#'   2)`; 0: stop at once. Not with `schedule = "constant"`.
#' @param weight_decay AdamW weight decay.
#' @param ema Exponential moving average of the weights, updated after every
#'   step (its decay ramps up as (1 + t) / (10 + t) over the first steps);
#'   validation, early stopping and the returned model use the averaged
#'   weights. A decay in (0, 1), 0 for none, or `NULL` (default): 0.999 for
#'   posteriors and for [flow_matching()] (the held-out log density of 7 of 8
#'   benchmark tasks was higher with it, and set fits vary less from seed to
#'   seed), none for likelihoods and model comparison.
#' @param seed `NULL` or a whole number: the same seed gives the same network,
#'   simulations and training on CPU.
#' @param verbose Show a progress bar and a summary line.
#' @param threads CPU threads for LibTorch (default: option
#'   `amortized.threads`, 1).
#' @param callback `NULL` or a function called after every epoch with the
#'   history so far (a data frame: epoch, train_loss, validation_loss,
#'   learning_rate, seconds); returning `FALSE` stops training (the best
#'   weights are kept).
#' @param checkpoint `NULL` or a file: every `checkpoint_every` epochs the
#'   amortizer with the weights of that epoch is written there with
#'   [save_amortizer()], so a crash loses little.
#' @param checkpoint_every Epochs between checkpoints.
#' @param online Train online on fresh simulations every step (see Modes).
#' @param steps_per_epoch Online: steps per epoch; `NULL`: as many as an
#'   offline epoch over `n_sims` simulations would take.
#' @param rounds Number of rounds of simulation and training (see Modes).
#' @param device `"cpu"`, `"cuda"` (an error where LibTorch has no CUDA or
#'   no GPU is visible) or `"auto"` (CUDA when available, else CPU); default
#'   option `amortized.device`, `"cpu"`. The simulations move to the device
#'   once; the weights come back to R after training.
#' @param prior For a model comparison (`amortizer(estimate = "models")`):
#'   the prior model probabilities, a named vector (default: equal).
#' @param summary_loss `"none"` or `"mmd"`: a penalty on the summary
#'   network, the squared maximum mean discrepancy between the learned
#'   summaries of each training batch and as many standard normal draws
#'   (weight 1, a mixture of Gaussian kernels), added to the loss, as in
#'   the published method for detecting model misspecification (Schmitt et
#'   al. 2023), where the summaries of simulations then fill a known region
#'   and a test against N(0, I) needs no simulations. [misspecification_test()]
#'   calibrates by simulation and whitens the summaries, so it works without
#'   the penalty, and the penalty has not added power with the current
#'   defaults: in `bench/misspecification.R` on an AR(1) model (75 epochs,
#'   the time-series net's moments, a GRU of 16) rejection at noise sd x1.4
#'   was 0.18 with it against 0.40 without, with 8% outliers 0.36 against
#'   0.80 (with 150 epochs, no moments and a GRU of 64, earlier: 0.51
#'   against 0.24 and 0.74 against 0.56), and on an iid normal model 0.74
#'   against 1.00 at sd x2. The validation
#'   loss (early stopping) leaves it out. `NULL` (default): as in the
#'   amortizer's previous training, else `"none"`. Needs a summary network.
#' @param subsets For exchangeable set data whose sizes vary (or time series
#'   whose lengths vary, see below): also train on
#'   random subsets of the simulated sets. Every pass over the simulations
#'   shows each set as a random subset of its points, of a size drawn
#'   uniformly from the smallest simulated size to its own (a context
#'   variable `n_obs` follows the new size): more data sets for the same
#'   parameters, at no simulation cost. Sound when any subset of a simulated
#'   set is a simulation of the model with fewer points, as when the points
#'   are independent given the parameters (and context) and their number is
#'   chosen apart from the parameters; not when the number of points is
#'   itself an outcome of the model, or the points depend on each other
#'   (a point process with interactions). `NULL` (default): on for
#'   posteriors with a set summary network when every simulated set's size
#'   equals its context variable `n_obs` (the size was a design choice, as
#'   in `simulator(context = list(n_obs = 5:100))`), else off; `TRUE` also
#'   where the sizes vary without `n_obs`, and for model comparisons (where
#'   it made the known-answer case of `bench/model_comparison.R` worse: mean
#'   absolute error 0.025 -> 0.035); `FALSE`: off.
#'   In `bench/summary_nets.R` (10,000 simulations) it cut the errors of the
#'   posterior means by 10-30% (the exponential rate's 90% quantile 0.176 ->
#'   0.123 posterior sd) and trained faster on the smaller sets.
#'
#'   For time series (`as_time_series()`) whose lengths vary, `TRUE` trains
#'   on random prefixes instead: each series cut after a number of steps
#'   drawn the same way. Sound when the series is simulated forward in time
#'   and its length only says where it stops (its first steps do not depend
#'   on the length), as for a stationary AR(1) of `n_obs` steps; not when
#'   the length sets the time step (`n_obs` samples of a fixed time span).
#'   So it is never on by default for series. On the AR(1) case of
#'   `bench/summary_nets.R` the 90% quantile of the errors of the posterior
#'   means fell from 0.36 to 0.32 posterior sds (phi and sigma).
#' @param store `NULL` or a directory: the simulations are kept there as
#'   they finish, and a second call after a crash resumes them (see
#'   [simulate()][simulate.amortized_simulator]). `simulator` may also be
#'   the directory of a finished store.
#' @param ... Not used: unknown arguments are an error, naming the closest argument (a
#'   typo such as `sed = 1` does not pass silently).
#' @return The trained amortizer, with its loss history in `$history` and
#'   the run's facts in `$info` (simulations, mode, best epoch, why it
#'   stopped, skipped batches, seed, EMA decay, batch size, whether it
#'   trained on subsets of the sets). It
#'   keeps the learned summaries of up to 1,000 held-out simulations, so that
#'   [sample_posterior()] and [posterior_model_probs()] warn (class
#'   `amortized_warning_outside_training`) about data sets far outside them.
#' @family workflow
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("gaussian_linear")
#' fit <- train(amortizer(), sim, n_sims = 2000, epochs = 5, seed = 1)
#' fit
#' }
#' @export
train <- function(object, ...) UseMethod("train")

#' @export
train.default <- function(object, ...) {
  check_amortizer(object, trained = FALSE, kind = NULL)
}

#' @rdname train
#' @export
train.amortizer <- function(object, simulator, n_sims = 10000, epochs = NULL, batch_size = NULL,
                            learning_rate = 2e-3, schedule = c("cosine", "constant", "step"), step_epochs = 30,
                            validation_fraction = 0.1, patience = 30, anneal = NULL,
                            weight_decay = 1e-4, ema = NULL, seed = NULL, verbose = interactive(),
                            threads = getOption("amortized.threads", 1L), callback = NULL, checkpoint = NULL,
                            checkpoint_every = 10, online = FALSE, steps_per_epoch = NULL, rounds = 1,
                            device = getOption("amortized.device", "cpu"), prior = NULL, summary_loss = NULL,
                            store = NULL, subsets = NULL, ...) {
  check_no_dots(list(...), train.amortizer)
  check_amortizer(object, trained = FALSE, kind = NULL)
  if (missing(simulator)) {
    cli::cli_abort("{.arg simulator} is missing: give a simulator or simulations to train on.",
                   class = "amortized_error_argument")
  }
  n_sims <- check_count(n_sims, min = 2)
  if (!is.null(epochs)) epochs <- check_count(epochs)
  if (!is.null(batch_size)) batch_size <- check_count(batch_size)
  learning_rate <- check_number(learning_rate, lower = 0, lower_open = TRUE)
  schedule <- check_choice(schedule, c("cosine", "constant", "step"))
  step_epochs <- check_count(step_epochs)
  validation_fraction <- check_number(validation_fraction, lower = 0, upper = 0.5)
  patience <- check_count(patience, min = 0)
  anneal <- if (is.null(anneal)) as.integer(ceiling(patience / 2)) else check_count(anneal, min = 0)
  weight_decay <- check_number(weight_decay, lower = 0)
  if (!is.null(ema)) {
    ema <- check_number(ema, lower = 0)
    if (ema >= 1) {
      cli::cli_abort(c("{.arg ema} must be a decay in [0, 1) (0: no averaging).", "x" = "Got {.val {ema}}."),
                     class = "amortized_error_argument")
    }
  }
  verbose <- check_flag(verbose)
  threads <- check_threads(threads)
  stored_seed <- if (is.character(store) && length(store) == 1) store_seed(path.expand(store))
  seed <- resolve_seed(seed %||% stored_seed, arg = "seed")  # a store resumes its run
  if (!is.null(callback) && !is.function(callback)) {
    cli::cli_abort(c("{.arg callback} must be NULL or a function of the history.", "x" = "Got {describe_value(callback)}."),
                   class = "amortized_error_argument")
  }
  if (!is.null(checkpoint)) {
    checkpoint <- check_path(checkpoint)
    if (!dir.exists(dirname(checkpoint))) {
      cli::cli_abort("The directory of {.arg checkpoint} does not exist: {.path {dirname(checkpoint)}}.",
                     class = "amortized_error_argument")
    }
  }
  checkpoint_every <- check_count(checkpoint_every)
  device <- check_device(device)
  online <- check_flag(online)
  if (!is.null(steps_per_epoch)) steps_per_epoch <- check_count(steps_per_epoch)
  rounds <- check_count(rounds)
  if (!is.null(subsets)) subsets <- check_flag(subsets)
  summary_loss <- check_choice(summary_loss %||% object$summary_loss %||% "none", c("none", "mmd"))
  if (summary_loss != "none" && (is.null(object$summary_net) || identical(object$kind, "likelihood"))) {
    cli::cli_abort(c("{.code summary_loss = \"{summary_loss}\"} needs an amortizer with a summary network.",
                     "i" = if (identical(object$kind, "likelihood")) "A likelihood amortizer summarises no data." else
                       "Give one with {.code amortizer(summary_net = deep_set())} (or another summary network)."),
                   class = "amortized_error_argument")
  }
  comparing <- identical(object$kind, "models")
  if (!is.null(store)) {
    store <- check_path(store)
    if (online || rounds > 1 || comparing || !is_simulator(simulator)) {
      cli::cli_abort("{.arg store} is for offline training on one simulator (its simulations are kept there as they finish).",
                     class = "amortized_error_argument")
    }
  }
  if (comparing && (online || rounds > 1)) {
    cli::cli_abort("A model comparison trains offline, in one round.", class = "amortized_error_argument")
  }
  if (!comparing && !is.null(prior)) {
    cli::cli_abort("{.arg prior} (prior model probabilities) is for model comparison: {.code amortizer(estimate = \"models\")}.",
                   class = "amortized_error_argument")
  }
  if ((online || rounds > 1) && !is_simulator(simulator)) {
    cli::cli_abort(c("Online and rounds training need a simulator to draw new simulations from.",
                     "x" = "{.arg simulator} is {describe_value(simulator)}."), class = "amortized_error_argument")
  }
  if (online && rounds > 1) {
    cli::cli_abort("Choose online training or rounds, not both.", class = "amortized_error_argument")
  }
  if (rounds > 1) {
    args <- list(n_sims = n_sims, epochs = epochs, batch_size = batch_size, learning_rate = learning_rate,
                 schedule = schedule, step_epochs = step_epochs,
                 validation_fraction = validation_fraction, patience = patience, anneal = anneal,
                 weight_decay = weight_decay, ema = ema, summary_loss = summary_loss, subsets = subsets,
                 verbose = verbose, threads = threads, callback = callback, checkpoint = checkpoint, device = device,
                 checkpoint_every = checkpoint_every)
    return(train_rounds(object, simulator, rounds, seed, args))
  }

  continuing <- is_trained(object)
  object <- upgrade_amortizer(object)  # an older amortizer continues in the current format
  keep_nonfinite <- if (continuing) isTRUE(object$config$keep_nonfinite) else
    length(steps_of(object$configurator %||% configurator(), "nan_to_num")) > 0
  if (comparing) {
    sims <- model_simulations(simulator, n_sims, prior %||% (if (continuing) object$model_prior), seed, threads,
                              keep_nonfinite = keep_nonfinite)
  } else if (online) {  # the fixed validation simulations
    n_val <- max(2L, as.integer(round(n_sims * validation_fraction)))
    sims <- training_simulations(simulator, n_val, seed, threads, keep_nonfinite = keep_nonfinite)
  } else {
    sims <- training_simulations(simulator, n_sims, seed, threads, keep_nonfinite = keep_nonfinite, store = store)
  }
  if (continuing) {
    check_same_variables(object, sims)
    plan <- object$config
  } else {
    plan <- resolve_configuration(object, sims)
    if (identical(object$kind, "likelihood")) plan <- likelihood_plan(plan, object$linear_residual %||% TRUE)
    if (identical(object$kind, "joint")) plan <- joint_plan(plan, object$linear_residual %||% TRUE)
    if (comparing) plan <- models_plan(plan, sims$models)
  }
  inputs <- simulation_inputs(plan, sims)
  # a coupling flow's "auto" transform settles here and is kept with the amortizer
  net <- resolve_inference_net(object$inference_net, object$kind %||% "posterior", ncol(sims$parameters))
  fit <- new_amortizer(net, summary_net = object$summary_net, configurator = object$configurator,
                       parameter_names = colnames(sims$parameters), data_names = data_names_of(sims$data),
                       config = plan, state = object$state, history = object$history, info = object$info,
                       use_structure = object$use_structure %||% TRUE,
                       linear_residual = object$linear_residual %||% TRUE, kind = object$kind %||% "posterior")
  fit$prior <- prior_spec(simulator) %||% object$prior  # for posteriors by MCMC and evidences (also in checkpoints)
  if (comparing) {
    fit$models <- sims$models
    fit$model_prior <- sims$model_prior
    # the candidates, for calibration checks on fresh simulations
    fit$candidates <- if (!inherits(simulator, "amortized_simulations")) simulator else object$candidates
  }
  target <- if (comparing) sims$parameters - 1 else sims$parameters  # the classifier's labels count from 0
  ptr <- if (continuing) model_pointer(fit) else new_model(fit, seed)
  fit$.handle$ptr <- ptr

  n_train <- if (online) n_sims * (1 - validation_fraction) else nrow(sims$parameters) * (1 - validation_fraction)
  has_summary <- !is.null(fit$config$summary_net)
  if (is.null(batch_size)) {
    batch_size <- default_batch_size(n_train, fit$kind, summary = has_summary)
  }
  epochs <- epochs %||% default_epochs(fit$kind, summary = has_summary)
  subset_spec <- training_subsets(subsets, fit, sims, inputs)
  progress <- training_progress(epochs, verbose)
  on_epoch <- epoch_hooks(progress$update, callback, checkpoint, checkpoint_every, fit, ptr, nrow(sims$parameters))
  options <- list(epochs = epochs, batch_size = batch_size, learning_rate = learning_rate,
                  weight_decay = weight_decay, validation_fraction = validation_fraction,
                  clip_grad_norm = 5, patience = patience, anneal_epochs = anneal, seed = seed, threads = threads,
                  schedule = schedule, step_epochs = step_epochs, step_gamma = 0.5, device = device,
                  ema_decay = ema %||% default_ema(object$inference_net, fit$kind),
                  summary_penalty = if (summary_loss == "mmd") 1 else 0,
                  subsets_min_length = subset_spec$min_length, subsets_length_context = subset_spec$length_context,
                  subsets_prefixes = subset_spec$prefixes)
  if (online) {
    steps_per_epoch <- steps_per_epoch %||% max(1L, as.integer(ceiling(n_train / batch_size)))
    seen <- new.env(parent = emptyenv())  # over the online batches: simulations dropped, sizes
    seen$dropped <- 0
    seen$length_range <- plan$length_range
    next_batch <- online_batches(simulator, plan, batch_size, seed, threads, keep_nonfinite, seen)
    res <- core_call(.amz_estimator_train_online(ptr, sims$parameters, inputs$x, inputs$lengths, inputs$context,
                                           options, !continuing, next_batch, steps_per_epoch, on_epoch,
                                           if (continuing) object$optimizer_state))
    if (seen$dropped > 0) {
      cli::cli_warn("Dropped {seen$dropped} online simulation{?s} with non-finite values (NaN, NA or Inf).",
                    class = "amortized_warning_nonfinite")
    }
    # the sizes trained on are those of every online batch, not only of the
    # validation simulations the plan was made from
    fit$config$length_range <- seen$length_range
  } else {
    res <- core_call(.amz_estimator_train(ptr, target, inputs$x, inputs$lengths, inputs$context,
                                    options, !continuing, on_epoch, if (continuing) object$optimizer_state))
  }
  progress$done()
  .amz_release_memory()  # what training freed, above glibc's raised trim threshold (see .onLoad)
  res$history <- as.data.frame(res$history)
  if (attr(on_epoch, "interrupted")()) res$stop_reason <- "interrupted"
  if (nrow(res$history) == 0) {
    cli::cli_abort("Training stopped before the first epoch ended ({gsub('_', ' ', res$stop_reason)}).",
                   class = "amortized_error_training")
  }

  offset <- if (continuing) nrow(object$history) else 0L
  res$history$epoch <- res$history$epoch + offset
  fit$history <- new_history(rbind(as.data.frame(object$history), res$history))
  fit$info <- list(n_sims = if (online) nrow(sims$parameters) + batch_size * steps_per_epoch * nrow(res$history) else
                     nrow(sims$parameters),
                   mode = if (online) "online" else "offline",
                   best_epoch = res$best_epoch + offset,
                   stop_reason = res$stop_reason, skipped_batches = res$skipped_batches, seed = seed,
                   ema = options$ema_decay, batch_size = batch_size, subsets = subset_spec$min_length > 0)
  fit$state <- core_call(.amz_estimator_get_state(ptr))
  fit$optimizer_state <- res$optimizer_state
  fit$summary_loss <- summary_loss
  if (!identical(fit$kind, "likelihood")) {  # held-out summaries, to spot observed data unlike them
    held <- if (online) seq_len(nrow(sims$parameters)) else res$validation_rows
    fit$summary_reference <- summary_reference(fit, sims, held, threads, device)
  }
  report_training(fit, res, verbose)
  fit
}

# Posterior estimators: about n_train / 128, a power of two in 32..256 (64
# for 10,000 simulations): enough gradient steps per epoch. Against n_train /
# 20 (450), 64 lowered the held-out negative log posterior density on every
# task of bench/recipe.R and C2ST on every benchmark task. The other kinds
# keep n_train / 20 (32..512): on likelihoods (two_moons NLE) the smaller
# batches were worse. Posteriors from set or series data (a summary network)
# take four times more, 64..512 (256 for 10,000 simulations): a step costs
# in proportion to the points rather than the data sets, and on the iid
# Gaussian and exponential sets of bench/summary_nets.R 256 was both faster
# (0.63 against 0.83 s per epoch) and more accurate than 64.
default_batch_size <- function(n_train, kind, summary = FALSE) {
  if (identical(kind, "posterior")) {
    if (summary) return(as.integer(min(512, max(64, 2^round(log2(n_train / 32))))))
    return(as.integer(min(256, max(32, 2^round(log2(n_train / 128))))))
  }
  as.integer(min(512, max(32, floor(n_train / 20))))
}

# Posteriors with a summary network (batches of 256, weight averaging):
# bench/summary_nets.R gave the same errors after 75 epochs as after 150
# (iid Gaussian, exponential: two seeds each; AR(1), then with a GRU of 64, in
# 100 s, was 152 s).
default_epochs <- function(kind, summary = FALSE) {
  if (identical(kind, "posterior") && summary) 75L else 150L
}

# Training on random subsets of the simulated sets (train(subsets = )):
# list(min_length, length_context, prefixes) for the core, min_length 0 when
# off. Time series take prefixes (prefixes = TRUE), and only on request: a
# prefix is a shorter simulation only if the length does not set the time
# step, which the simulations cannot show.
# Sound where any subset of a simulated set is a simulation of the model
# with fewer points: points independent given the parameters (and
# context), and their number a design choice rather than an outcome. By
# default on where that shows: exchangeable sets (a set summary network,
# one source) whose sizes vary and equal the context variable `n_obs` of
# every simulation (the simulator drew the size apart from the parameters),
# for posteriors; model comparisons may ask for it (on the known-answer case
# of bench/model_comparison.R it made the probabilities worse: mean absolute
# error against the exact ones 0.025 -> 0.035, ECE 0.026 -> 0.032). The
# sizes run from the smallest simulated one to each set's own; an `n_obs`
# the network takes as context follows the new size. bench/summary_nets.R,
# 10,000 simulations (|mean error| / exact sd, median / 90%; n_obs not
# context): iid Gaussian sigma 0.052 / 0.142 -> 0.043 / 0.119, exponential
# 0.066 / 0.176 -> 0.054 / 0.123, correlation 0.106 / 0.345 -> 0.102 /
# 0.297, and faster (smaller sets).
training_subsets <- function(subsets, fit, sims, inputs, call = rlang::caller_env()) {
  off <- list(min_length = 0L, length_context = -1L, prefixes = FALSE)
  plan <- fit$config
  if (isFALSE(subsets)) return(off)
  series <- identical(plan$structure, "time_series")
  sets <- fit$kind %in% c("posterior", "models") && (identical(plan$structure, "set") || series) &&
    is.null(plan$flat_points) && !is.null(plan$summary_net)
  lengths <- inputs$lengths
  varying <- length(lengths) > 0 && min(lengths) < max(lengths)
  design <- varying && size_is_n_obs(sims, lengths)
  if (is.null(subsets)) {
    if (!(sets && !series && design && fit$kind == "posterior")) return(off)
  } else {
    what <- if (series) "series" else "sets"
    size <- if (series) "length" else "size"
    why <- if (!sets) {
      "They need set data of one source with a set summary network ({.fn deep_set}, {.fn set_transformer}), or time series with a series summary network, for a posterior or a model comparison."
    } else if (!varying) {
      "The simulated {what} all have the same {size}: give the simulator a context variable such as {.code n_obs = 5:100}."
    } else if ("n_obs" %in% plan$context_names && !design) {
      "The context variable {.var n_obs} the network takes differs from the {what}' {size}s."
    }
    if (!is.null(why)) {
      cli::cli_abort(c("{.code subsets = TRUE} does not apply to these simulations.", "x" = why),
                     class = "amortized_error_argument", call = call)
    }
  }
  list(min_length = as.integer(min(lengths)),
       length_context = if ("n_obs" %in% plan$context_names) match("n_obs", plan$context_names) - 1L else -1L,
       prefixes = series)
}

# The function C++ calls for each online training step: fresh simulations
# (their own seed per step) as network inputs. `seen` (an environment)
# counts the rows dropped for non-finite values and widens the range of
# sizes trained on.
online_batches <- function(sim, plan, batch_size, seed, threads, keep_nonfinite, seen) {
  function(step) {
    step_seed <- (seed + 7919 * (step + 1)) %% 2147483647
    raw <- simulate_raw(sim, batch_size, step_seed, threads, chunk_size = batch_size)
    sims <- withCallingHandlers(
      simulations_from_raw(raw, sim, keep_nonfinite = keep_nonfinite, declarations = FALSE),
      amortized_warning_nonfinite = function(w) invokeRestart("muffleWarning"))
    seen$dropped <- seen$dropped + batch_size - nrow(sims$parameters)
    seen$length_range <- widen_length_range(seen$length_range, sims$lengths)
    inputs <- simulation_inputs(plan, sims)
    list(theta = sims$parameters, x = inputs$x, lengths = inputs$lengths, context = inputs$context)
  }
}

# A plan's length_range (a range, or a list of ranges per source) widened to
# cover `lengths` (a vector, or a list per source).
widen_length_range <- function(range, lengths) {
  if (is.null(range)) return(range)
  if (is.list(range)) {
    for (b in names(range)) range[[b]] <- base::range(range[[b]], lengths[[b]])
    return(range)
  }
  base::range(range, lengths)
}

# The default decay of the weight average: flow matching learns from a
# noisy regression loss, posteriors with a summary network from summaries
# that shift with every step (set models: median error of the Gaussian's
# mean 0.04-0.11 -> 0.04-0.06 posterior sd, bench/summary_nets.R), and flat
# posteriors from few simulations per dimension: the held-out negative log
# density of bench/recipe.R fell on 7 of its 8 tasks (bernoulli_glm 2.654 ->
# 2.435, about what three ensemble members gave; slcp rose 1.821 -> 1.836).
# Likelihoods and model classifiers keep none (not measured).
default_ema <- function(net, kind = "posterior") {
  type <- if (identical(net$type, "ensemble")) net$member$type else net$type
  if (identical(type, "flow_matching") || identical(kind, "posterior")) 0.999 else 0
}

# Rounds: simulate, train, repeat with more simulations, keeping them all.
train_rounds <- function(object, simulator, rounds, seed, args) {
  sims <- NULL
  fit <- object
  for (r in seq_len(rounds)) {
    new <- training_simulations(simulator, args$n_sims, (seed + 104729 * r) %% 2147483647, args$threads)
    sims <- if (is.null(sims)) new else combine_simulations(sims, new)
    fit <- do.call(train.amortizer, c(list(fit, sims, seed = (seed + r) %% 2147483647), args))
    fit$info$round <- r
  }
  fit$info$mode <- "rounds"
  fit
}

training_simulations <- function(simulator, n_sims, seed, threads = 1L, keep_nonfinite = FALSE, store = NULL,
                                 arg = "simulator", call = rlang::caller_env()) {
  if (inherits(simulator, "amortized_simulations")) {
    return(simulator)
  }
  if (is_store_path(simulator)) return(read_store(simulator, keep_nonfinite = keep_nonfinite, call = call))
  if (!is_simulator(simulator)) {
    cli::cli_abort(c("{.arg {arg}} must be a simulator ({.fn simulator}, {.fn benchmark_simulator}) or simulations ({.fn simulate}).",
                     "x" = "Got {describe_value(simulator)}."), class = "amortized_error_argument", call = call)
  }
  raw <- simulate_raw(simulator, n_sims, seed, threads, progress = interactive(), store = store, call = call)
  simulations_from_raw(raw, simulator, keep_nonfinite = keep_nonfinite, call = call)
}

# Simulations must have the variables a trained amortizer knows.
check_same_variables <- function(object, sims, arg = "simulator", call = rlang::caller_env()) {
  plan <- object$config
  if (!identical(colnames(sims$parameters), object$parameter_names)) {
    cli::cli_abort(c("{.arg {arg}} has other parameters than the amortizer.",
                     "x" = "Simulations: {abbreviate_names(colnames(sims$parameters))}; amortizer: {abbreviate_names(object$parameter_names)}."),
                   class = "amortized_error_argument", call = call)
  }
  same_layout <- if (is_multi_source(sims$data)) identical(array_blocks(sims$data), plan$sources) else
    (length(dim(sims$data)) == 3) == (plan$structure %in% c("set", "time_series") && is.null(plan$flat_points))
  if (!identical(data_names_of(sims$data), object$data_names) || !same_layout) {
    cli::cli_abort("{.arg {arg}} has other data variables or another data layout than the amortizer was trained on.",
                   class = "amortized_error_argument", call = call)
  }
  missing_context <- setdiff(plan$context_names, colnames(sims$context))
  if (length(missing_context) > 0) {
    cli::cli_abort("{.arg {arg}} lacks the context variable{?s} {.val {missing_context}}.",
                   class = "amortized_error_argument", call = call)
  }
  invisible(sims)
}

# The function C++ calls after each epoch: progress bar, user callback
# (FALSE stops) and checkpoints.
# An interrupt (Ctrl-C) while R code runs here stops training like one
# between batches: hooks$interrupted() tells.
epoch_hooks <- function(progress, callback, checkpoint, every, fit, ptr, n_sims) {
  rows <- list()
  interrupted <- FALSE
  hook <- function(epoch, train_loss, validation_loss, learning_rate, seconds) {
    progress(epoch, train_loss, validation_loss, learning_rate, seconds)
    rows[[length(rows) + 1]] <<- data.frame(epoch = epoch, train_loss = train_loss,
                                            validation_loss = validation_loss, learning_rate = learning_rate,
                                            seconds = seconds)
    if (!is.null(checkpoint) && epoch %% every == 0) {
      fit$state <- core_call(.amz_estimator_get_state(ptr))
      fit$history <- new_history(do.call(rbind, rows))
      fit$info <- list(n_sims = n_sims, best_epoch = which.min(fit$history$validation_loss), stop_reason = "checkpoint")
      save_amortizer(fit, checkpoint, overwrite = TRUE)
    }
    if (is.null(callback)) return(TRUE)
    keep <- callback(new_history(do.call(rbind, rows)))
    !identical(keep, FALSE)
  }
  structure(function(...) {
    tryCatch(hook(...), interrupt = function(e) {
      interrupted <<- TRUE
      FALSE
    })
  }, interrupted = function() interrupted)
}

# A cli progress bar over epochs (a no-op when quiet), living as long as
# the frame `envir`; `update` is called from C++ after each epoch and
# returns TRUE to continue.
training_progress <- function(epochs, verbose, envir = parent.frame()) {
  if (!verbose) {
    return(list(update = function(...) TRUE, done = function() invisible()))
  }
  id <- cli::cli_progress_bar(
    total = epochs, .envir = envir, clear = TRUE, extra = list(loss = "-", val = "-", lr = "-"),
    format = paste("Training {cli::pb_bar} epoch {cli::pb_current}/{cli::pb_total}",
                   "| loss {cli::pb_extra$loss} | val {cli::pb_extra$val} | lr {cli::pb_extra$lr} | ETA {cli::pb_eta}"))
  list(
    update = function(epoch, train_loss, validation_loss, learning_rate, seconds) {
      cli::cli_progress_update(id = id, set = epoch, .envir = envir,
                               extra = list(loss = format(train_loss, digits = 4),
                                            val = format(validation_loss, digits = 4),
                                            lr = format(learning_rate, digits = 2)))
      TRUE
    },
    done = function() cli::cli_progress_done(id = id, .envir = envir)
  )
}

report_training <- function(fit, res, verbose) {
  h <- fit$history
  best <- fit$info$best_epoch
  if (res$stop_reason == "interrupted") {
    cli::cli_warn(c("Training was interrupted; returning the best model so far (epoch {best}).",
                    "i" = "Validation loss {format(h$validation_loss[best], digits = 4)}."),
                  class = "amortized_warning_interrupted")
  } else if (res$stop_reason == "nonfinite") {
    cli::cli_warn(c("Training stopped: too many batches with a non-finite loss; kept the best weights (epoch {best}).",
                    "i" = "Check the scale of your data and parameters, or lower {.arg learning_rate}."),
                  class = "amortized_warning_nonfinite")
  }
  if (verbose) {
    cli::cli_alert_success(paste0(
      "Trained in {format(sum(res$history$seconds), digits = 3)} s: {nrow(res$history)} epoch{?s} ",
      "({gsub('_', ' ', res$stop_reason)}), best validation loss ",
      "{format(h$validation_loss[best], digits = 4)} at epoch {best}."))
  }
  if (res$skipped_batches > 0) {
    cli::cli_warn("Skipped {res$skipped_batches} batch{?es} with a non-finite loss or gradient.",
                  class = "amortized_warning_nonfinite")
  }
}
