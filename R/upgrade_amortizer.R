# The format of amortizer objects, also inside saveRDS() files and in the
# settings of save_amortizer() files. 2: every amortizer records its kind
# and format; the data embedding is the C++ module "embedding".
amortizer_format_version <- 2L

# Brings an amortizer of an older format up to the current one (a no-op for
# current ones): its kind and format, the configuration fields added since
# amortized 0.1.0 with the values those models were trained with, and the
# names of its C++ tensors (and of its optimizer state) as the estimator now
# names them. Every verb goes through model_pointer(), which calls it.
upgrade_amortizer <- function(x) {
  version <- x$format_version %||% 1L
  if (version >= amortizer_format_version) return(x)
  x$kind <- x$kind %||% "posterior"
  core <- x$config$core
  if (!is.null(core)) {
    core$set_features <- core$set_features %||% 1L  # the mean products of amortized 0.1.0
    core$symmetric <- core$symmetric %||% integer()
    core$rotation <- core$rotation %||% numeric()
    core$truncate_lower <- core$truncate_lower %||% numeric()
    core$truncate_upper <- core$truncate_upper %||% numeric()
    core$equivariances <- core$equivariances %||% list()
    x$config$core <- core
  }
  x$inference_net <- upgrade_inference_net(x$inference_net)
  if (!is.null(x$state)) x$state$names <- embedding_tensor_names(x$state$names)
  if (!is.null(x$optimizer_state)) x$optimizer_state$names <- embedding_tensor_names(x$optimizer_state$names)
  x$format_version <- amortizer_format_version
  x
}

# Options an inference net spec gained after amortized 0.1.0, with the
# values the older ones used.
upgrade_inference_net <- function(spec) {
  if (identical(spec$type, "coupling_flow")) {
    spec$bins <- spec$bins %||% 10L
    spec$tail_bound <- spec$tail_bound %||% 3
  } else if (identical(spec$type, "flow_matching")) {
    spec$solver <- spec$solver %||% "rk4"
    spec$tolerance <- spec$tolerance %||% 1e-5
  } else if (identical(spec$type, "ensemble")) {
    spec$member <- upgrade_inference_net(spec$member)
  }
  spec
}

# Format 1 registered the data embedding's tensors at the top of the
# posterior estimator; format 2 under "embedding.".
embedding_tensor_names <- function(names) {
  old <- grepl("^(summary|fusion|x_standardize|extra_standardize|source_standardize_[0-9]+)\\.", names)
  names[old] <- paste0("embedding.", names[old])
  names
}
