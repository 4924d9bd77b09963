# The look shared by every plot of the package: ggplot2's minimal theme with
# room between facets, so that the axis labels of neighbouring panels do not
# run into each other ("1.000.00" where two facets meet).
theme_amortized <- function() {
  ggplot2::theme_minimal() +
    ggplot2::theme(panel.spacing = ggplot2::unit(1.2, "lines"))
}

# An axis over [0, 1] (fractional ranks, coverage levels) with three breaks,
# which stay legible in small facets.
unit_axis <- function(axis = c("x", "y")) {
  scale <- if (match.arg(axis) == "x") ggplot2::scale_x_continuous else ggplot2::scale_y_continuous
  scale(breaks = c(0, 0.5, 1), labels = c("0", "0.5", "1"))
}
