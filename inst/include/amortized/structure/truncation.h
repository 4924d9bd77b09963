// Truncation of a conditional distribution to a box (the prior's support):
// draws by rejection, and its mass inside the box, per condition row.
#pragma once

#include "amortized/common.h"
#include "amortized/transforms/bounded.h"

#include <functional>
#include <string>
#include <vector>

namespace amortized {

class Truncation {
 public:
  // Untruncated draws: (n, cond [rows, width], gen) -> [rows, n, dim].
  using DrawFn = std::function<Tensor(int64_t, const Tensor&, at::Generator&)>;

  // No truncation.
  Truncation() = default;
  // The box (empty: none; +-inf: no bound on a side); mass_draws: the draws
  // of each Monte Carlo mass estimate (at least 100).
  Truncation(const std::vector<double>& lower, const std::vector<double>& upper, int64_t mass_draws);

  bool active() const { return !support_.is_empty(); }
  // theta [rows, dim] -> [rows] bool: inside the box.
  Tensor inside(const Tensor& theta) const { return support_->inside(theta); }
  // n draws inside the box for each row of cond: [rows, n, dim]. Rounds of
  // draws sized by each row's acceptance so far; an error names the row
  // (1-based) whose draws almost never fall inside.
  Tensor sample(int64_t n, const Tensor& cond, const DrawFn& draw, at::Generator& gen) const;
  // log of the mass inside the box for each row of cond: [rows], one
  // estimate per distinct row, from a fixed stream (deterministic).
  Tensor log_mass(const Tensor& cond, const DrawFn& draw) const;
  // "truncated by rejection to the bounds of k parameters".
  std::string describe() const;

 private:
  Bounded support_{nullptr};
  std::vector<double> lower_, upper_;
  int64_t mass_draws_ = 4096;
};

}  // namespace amortized
