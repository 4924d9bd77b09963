# The data of simulations are one block, an n x d matrix or an [n, n_obs,
# dim] array (sets, time series), or for a multi-source simulator a named
# list of such blocks (sources), each with its own variables and its own
# number of observations. Lengths (valid observations per row) are an
# integer vector for one [n, n_obs, dim] block, and for multi-source data a
# named list with one such vector per array block. These helpers treat both.

is_multi_source <- function(data) is.list(data) && !is.data.frame(data) && is.null(dim(data))

# The names of the array blocks (sets, series) of multi-source data.
array_blocks <- function(data) names(data)[vapply(data, function(b) length(dim(b)) == 3, logical(1))]

n_rows <- function(data) if (is_multi_source(data)) nrow(data[[1]]) else nrow(data)

# Rows i of a matrix, an [n, n_obs, dim] array or multi-source data.
take_rows <- function(x, i) {
  if (is_multi_source(x)) return(lapply(x, take_rows, i))
  if (length(dim(x)) == 3) x[i, , , drop = FALSE] else x[i, , drop = FALSE]
}

# Lengths of rows i.
take_lengths <- function(lengths, i) if (is.list(lengths)) lapply(lengths, `[`, i) else lengths[i]

# The lengths of data whose array blocks are full (no padding), when none
# are given.
full_lengths <- function(data) {
  if (is_multi_source(data)) {
    b <- array_blocks(data)
    return(if (length(b)) stats::setNames(lapply(data[b], full_lengths), b))
  }
  if (length(dim(data)) == 3) rep(dim(data)[2], nrow(data))
}

# TRUE for the rows of a matrix, of an [n, n_obs, dim] array within the
# first lengths[i] observations, or of every block of multi-source data,
# whose values are all finite.
finite_rows <- function(x, lengths = NULL) {
  if (is_multi_source(x)) {
    return(Reduce(`&`, lapply(names(x), function(b) finite_rows(x[[b]], lengths[[b]]))))
  }
  if (length(dim(x)) == 2) {
    ok <- is.finite(rowSums(x))  # a sum can also overflow: check those rows value by value
    if (!all(ok)) ok[!ok] <- apply(is.finite(x[!ok, , drop = FALSE]), 1, all)
    return(ok)
  }
  bad <- !is.finite(x)
  if (!is.null(lengths)) {
    padding <- outer(lengths, seq_len(dim(x)[2]), `<`)
    bad <- bad & !as.vector(padding)  # recycled over the variables
  }
  rowSums(bad, dims = 1L) == 0
}

# Array blocks without the padding no row needs.
trim_padding <- function(data, lengths) {
  if (is_multi_source(data)) {
    for (b in names(lengths)) data[[b]] <- trim_padding(data[[b]], lengths[[b]])
    return(data)
  }
  if (length(lengths) > 0 && max(lengths) < dim(data)[2]) data <- data[, seq_len(max(lengths)), , drop = FALSE]
  data
}

# Binds data blocks along the first dimension: matrices, or 3-d arrays
# padded with NA to the most observations, or multi-source data block by
# block. Returns list(data, lengths), the lengths taken from each part's
# dimensions unless given (a list of the parts' lengths).
bind_data <- function(parts, lengths = NULL) {
  if (is_multi_source(parts[[1]])) {
    blocks <- names(parts[[1]])
    bound <- lapply(stats::setNames(blocks, blocks), function(b) {
      bind_data(lapply(parts, `[[`, b), if (!is.null(lengths)) lapply(lengths, `[[`, b))
    })
    arrays <- array_blocks(parts[[1]])
    return(list(data = lapply(bound, `[[`, "data"),
                lengths = if (length(arrays)) lapply(bound[arrays], `[[`, "lengths")))
  }
  if (length(dim(parts[[1]])) == 2) {
    return(list(data = if (length(parts) == 1) parts[[1]] else do.call(rbind, parts), lengths = NULL))
  }
  points <- vapply(parts, function(b) dim(b)[2], numeric(1))
  rows <- vapply(parts, nrow, numeric(1))
  out_lengths <- if (!is.null(lengths)) as.integer(unlist(lengths)) else rep(as.integer(points), rows)
  if (length(parts) == 1) return(list(data = parts[[1]], lengths = out_lengths))
  d <- dim(parts[[1]])
  out <- array(NA_real_, c(sum(rows), max(points), d[3]), dimnames = list(NULL, NULL, dimnames(parts[[1]])[[3]]))
  start <- 0
  for (b in parts) {
    out[start + seq_len(nrow(b)), seq_len(dim(b)[2]), ] <- b
    start <- start + nrow(b)
  }
  list(data = out, lengths = out_lengths)
}

# The names of the data variables (the last dimension); for multi-source
# data a named list of them, one per block.
data_names_of <- function(data) {
  if (is_multi_source(data)) return(lapply(data, data_names_of))
  utils::tail(dimnames(data), 1)[[1]]
}

# The shape of one data set (dimensions after the first); per block for
# multi-source data.
data_shape_of <- function(data) {
  if (is_multi_source(data)) return(lapply(data, data_shape_of))
  dim(data)[-1]
}
