#include "amortized/mcmc/slice_sampler.h"

#include <cmath>

namespace amortized {

Tensor slice_sample(const ChainLogDensity& log_density, const Tensor& init,
                    const SliceSamplerOptions& o, at::Generator& gen) {
  check_shape(init, "init", {-1, -1});
  TORCH_CHECK(o.warmup() >= 0 && o.draws() >= 1 && o.thin() >= 1 && o.width() > 0 && o.max_steps_out() >= 0 &&
                  o.max_shrinks() >= 1,
              "slice sampler: warmup >= 0, draws >= 1, thin >= 1, width > 0, max_steps_out >= 0 and max_shrinks >= 1");
  torch::NoGradGuard no_grad;
  const auto dbl = torch::TensorOptions().dtype(torch::kDouble);
  Tensor x = init.to(torch::kDouble).clone();
  const int64_t chains = x.size(0), dim = x.size(1);
  const Tensor all = torch::arange(chains, torch::kLong), both = torch::cat({all, all});
  auto logp = [&](const Tensor& at, const Tensor& chain) {
    return log_density(at, chain).to(torch::kCPU, torch::kDouble).reshape({-1});
  };
  Tensor lp = logp(x, all);
  TORCH_CHECK(torch::isfinite(lp).all().item<bool>(), "slice sampler: every chain must start where the log density is finite");
  Tensor width = torch::full({chains, dim}, o.width(), dbl);
  Tensor out = torch::empty({chains, o.draws(), dim}, dbl);
  const int64_t total = o.warmup() + o.draws() * o.thin();
  // iteration it keeps a draw after the warmup, every thin-th
  auto keep = [&](int64_t it) { return it >= o.warmup() && (it - o.warmup() + 1) % o.thin() == 0; };
  auto kept = [&](int64_t it) { return (it - o.warmup()) / o.thin(); };
  for (int64_t it = 0; it < total; ++it) {
    if (o.hyperrectangle()) {
      // the slice level, a hyperrectangle of the widths placed at random around x
      const Tensor level = lp - torch::empty({chains}, dbl).exponential_(1.0, gen);
      Tensor left = x - width * torch::rand({chains, dim}, gen, dbl), right = left + width;
      // proposals for the chains still searching (active) only
      Tensor next = x.clone(), next_lp = lp.clone(), tries = torch::zeros({chains}, dbl), active = all;
      for (int64_t s = 0; s < o.max_shrinks() && active.numel() > 0; ++s) {
        tries.index_fill_(0, active, static_cast<double>(s + 1));
        const Tensor lo = left.index_select(0, active), hi = right.index_select(0, active);
        const Tensor prop = lo + (hi - lo) * torch::rand({active.numel(), dim}, gen, dbl);
        const Tensor prop_lp = logp(prop, active);
        const Tensor accept = prop_lp > level.index_select(0, active);
        const Tensor took = active.masked_select(accept);
        next.index_copy_(0, took, prop.index({accept}));
        next_lp.index_copy_(0, took, prop_lp.masked_select(accept));
        // shrink every side of the others towards x
        const Tensor reject = ~accept, rest = active.masked_select(reject), p = prop.index({reject});
        const Tensor below = p < x.index_select(0, rest);
        left.index_copy_(0, rest, torch::where(below, p, left.index_select(0, rest)));
        right.index_copy_(0, rest, torch::where(below, right.index_select(0, rest), p));
        active = rest;
      }
      if (it < o.warmup()) {
        // adapt: each side about three times the typical move, and wider
        // where the first proposal was taken (the box may be too small)
        const Tensor grow = torch::where(tries == 1.0, torch::full_like(tries, 1.1), torch::ones_like(tries));
        width.copy_(((0.9 * width + 0.3 * (next - x).abs()) * grow.unsqueeze(1)).clamp_min(1e-6));
      }
      x = next;
      lp = next_lp;
      if (keep(it)) out.select(1, kept(it)).copy_(x);
      continue;
    }
    for (int64_t j = 0; j < dim; ++j) {
      const Tensor xj = x.select(1, j).clone(), w = width.select(1, j);
      // the slice: log u below the current log density
      const Tensor level = lp - torch::empty({chains}, dbl).exponential_(1.0, gen);
      Tensor left = xj - w * torch::rand({chains}, gen, dbl), right = left + w;
      auto at_j = [&](const Tensor& v) {
        Tensor y = x.clone();
        y.select(1, j).copy_(v);
        return y;
      };
      // stepping out, each side until it leaves the slice (both ends in one call)
      for (int64_t s = 0; s < o.max_steps_out(); ++s) {
        const Tensor inside = logp(torch::cat({at_j(left), at_j(right)}, 0), both).view({2, chains}) > level;
        const Tensor out_left = inside[0], out_right = inside[1];
        if (!out_left.any().item<bool>() && !out_right.any().item<bool>()) break;
        left = torch::where(out_left, left - w, left);
        right = torch::where(out_right, right + w, right);
      }
      // shrinkage: propose in [left, right], accept inside the slice
      Tensor done = torch::zeros({chains}, torch::kBool), next = xj.clone(), next_lp = lp.clone();
      for (int64_t s = 0; s < o.max_shrinks() && !done.all().item<bool>(); ++s) {
        const Tensor prop = left + (right - left) * torch::rand({chains}, gen, dbl);
        const Tensor prop_lp = logp(at_j(prop), all);
        const Tensor accept = (prop_lp > level) & ~done;
        next = torch::where(accept, prop, next);
        next_lp = torch::where(accept, prop_lp, next_lp);
        done = done | accept;
        const Tensor below = prop < xj;
        left = torch::where(~done & below, prop, left);
        right = torch::where(~done & ~below, prop, right);
      }
      if (it < o.warmup()) {  // adapt: about twice the typical move
        width.select(1, j).copy_((0.9 * w + 0.1 * 3.0 * (next - xj).abs()).clamp_min(1e-6));
      }
      x.select(1, j).copy_(next);
      lp = next_lp;
    }
    if (keep(it)) out.select(1, kept(it)).copy_(x);
  }
  return out;
}

Tensor split_rhat(const Tensor& draws) {
  check_shape(draws, "draws", {-1, -1, -1});
  const int64_t n = draws.size(1) / 2;
  TORCH_CHECK(n >= 2, "split_rhat needs at least 4 draws per chain");
  Tensor d = draws.to(torch::kDouble);
  Tensor halves = torch::cat({d.narrow(1, 0, n), d.narrow(1, draws.size(1) - n, n)}, 0);  // [2 chains, n, dim]
  Tensor means = halves.mean(1);                        // [m, dim]
  Tensor within = halves.var(1, /*unbiased=*/true).mean(0);  // W
  Tensor between = static_cast<double>(n) * means.var(0, /*unbiased=*/true);  // B
  Tensor var_plus = (static_cast<double>(n - 1) / n) * within + between / static_cast<double>(n);
  return (var_plus / within).sqrt();
}

}  // namespace amortized
