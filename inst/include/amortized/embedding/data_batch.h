// The data of a batch of data sets as every estimator takes them, and the
// row operations on them (R-free).
#pragma once

#include "amortized/summary/fusion.h"

#include <torch/types.h>

#include <vector>

namespace amortized {

struct DataBatch {
  // Flat data [batch, dim_x], or with a summary network [batch, n, dim_x]
  // (n points or time steps of dim_x variables, padded at the end).
  Tensor x;
  // [batch] int64: valid points per data set (1..n), or undefined (all n).
  // Padding may hold any values, NaN included.
  Tensor lengths;
  // [batch, dim_context], or undefined when there is no context.
  Tensor context;
  // With a fusion network: one source per summary network; x then holds
  // the flat values [batch, dim_x] (undefined or no columns when dim_x is 0).
  std::vector<DataSource> sources = {};
};

// The number of data sets of a batch.
int64_t rows(const DataBatch& data);

// f applied to every tensor of a batch (undefined ones stay so).
template <typename F>
DataBatch map_batch(const DataBatch& b, F f) {
  auto g = [&](const Tensor& t) { return t.defined() ? f(t) : t; };
  DataBatch out{g(b.x), g(b.lengths), g(b.context)};
  for (const auto& s : b.sources) out.sources.push_back({g(s.x), g(s.lengths)});
  return out;
}

// Rows start .. start + len - 1 of a batch.
DataBatch narrow(const DataBatch& b, int64_t start, int64_t len);
// Rows idx (int64 [m]) of a batch, in that order.
DataBatch index_rows(const DataBatch& b, const Tensor& idx);
// Every row of a batch `times` times, block after block.
DataBatch repeat_rows(const DataBatch& b, int64_t times);
DataBatch to_device(const DataBatch& b, torch::Device device);
// The batch without the padding that no data set of it needs: set and
// series data [b, n, dim] narrowed to the longest length among its rows
// (summary networks ignore padding, so the result is the same; the
// compute on padding is saved).
DataBatch trim_padding(const DataBatch& b);

}  // namespace amortized
