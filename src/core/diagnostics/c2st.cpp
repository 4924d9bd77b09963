#include "amortized/diagnostics/c2st.h"

#include <c10/core/InferenceMode.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace amortized {

namespace {

// Weights of F independent MLPs d -> h -> h -> 1, stacked on a leading fold
// dimension: w[l]: [F, in, out], b[l]: [F, 1, out].
struct FoldNets {
  std::vector<Tensor> w, b;

  FoldNets(int64_t folds, int64_t d, int64_t h, at::Generator& gen) {
    const int64_t widths[4] = {d, h, h, 1};
    for (int l = 0; l < 3; ++l) {
      // Glorot-uniform bound for weights and biases, as scikit-learn does.
      const double bound = std::sqrt(6.0 / static_cast<double>(widths[l] + widths[l + 1]));
      auto opts = torch::TensorOptions().dtype(torch::kFloat32);
      w.push_back((torch::rand({folds, widths[l], widths[l + 1]}, gen, opts) * 2 - 1).mul_(bound).requires_grad_());
      b.push_back((torch::rand({folds, 1, widths[l + 1]}, gen, opts) * 2 - 1).mul_(bound).requires_grad_());
    }
  }
  // x: [F, batch, d] -> logits [F, batch]
  Tensor forward(const Tensor& x) const {
    Tensor h = torch::relu(torch::baddbmm(b[0], x, w[0]));
    h = torch::relu(torch::baddbmm(b[1], h, w[1]));
    return torch::baddbmm(b[2], h, w[2]).squeeze(2);
  }
  std::vector<Tensor> parameters() const {
    std::vector<Tensor> out(w);
    out.insert(out.end(), b.begin(), b.end());
    return out;
  }
};

}  // namespace

C2stResult c2st(const Tensor& estimate, const Tensor& reference, const C2stOptions& o) {
  check_shape(estimate, "estimate", {-1, -1});
  check_shape(reference, "reference", {-1, estimate.size(1)});
  TORCH_CHECK(o.folds() >= 2, "c2st needs folds >= 2, got ", o.folds());
  TORCH_CHECK(o.hidden_factor() >= 1 && o.batch_size() >= 1 && o.max_epochs() >= 1 && o.learning_rate() > 0,
              "c2st: hidden_factor, batch_size, max_epochs must be >= 1 and learning_rate > 0");
  const int64_t n1 = estimate.size(0), n2 = reference.size(0), d = estimate.size(1);
  const int64_t n = n1 + n2, folds = o.folds();
  TORCH_CHECK(n1 >= folds && n2 >= folds, "c2st needs at least ", folds, " rows in each sample");
  c10::InferenceMode not_inference(false);  // the classifiers are trained, whatever mode the caller is in
  torch::NoGradGuard outer_no_grad;
  Tensor ref = reference.to(torch::kFloat64), est = estimate.to(torch::kFloat64);
  TORCH_CHECK(torch::isfinite(ref).all().item<bool>() && torch::isfinite(est).all().item<bool>(),
              "c2st: the samples must be finite");
  if (o.z_score()) {
    Tensor mean = ref.mean(0), sd = ref.std(0).clamp_min(1e-12);
    ref = (ref - mean) / sd;
    est = (est - mean) / sd;
  }
  Tensor x = torch::cat({ref, est}, 0).to(torch::kFloat32);
  Tensor y = torch::cat({torch::zeros({n2}), torch::ones({n1})}, 0);

  // Shuffled K folds: fold k tests on perm[k-th slice], trains on the rest.
  at::Generator gen = make_generator(o.seed());
  Tensor perm = torch::randperm(n, gen, torch::kLong);
  std::vector<Tensor> test_idx, train_idx;
  int64_t n_train = std::numeric_limits<int64_t>::max();
  for (int64_t k = 0; k < folds; ++k) {
    const int64_t lo = n * k / folds, hi = n * (k + 1) / folds;
    test_idx.push_back(perm.slice(0, lo, hi));
    train_idx.push_back(torch::cat({perm.slice(0, 0, lo), perm.slice(0, hi, n)}));
    n_train = std::min(n_train, train_idx.back().size(0));
  }
  // Equal training sizes let the folds train as one batch; where n is not a
  // multiple of the fold count some folds leave one (random) row out per epoch.

  FoldNets nets(folds, d, o.hidden_factor() * d, gen);
  auto params = nets.parameters();
  torch::optim::Adam adam(params, torch::optim::AdamOptions(o.learning_rate()).betas({0.9, 0.999}).eps(1e-8));
  const int64_t batch = std::min(o.batch_size(), n_train);

  std::vector<double> best(folds, std::numeric_limits<double>::infinity());
  std::vector<int64_t> stall(folds, 0), epochs(folds, 0);
  std::vector<bool> done(folds, false);
  std::vector<std::vector<Tensor>> snapshot(folds);  // weights of finished folds
  auto take_snapshot = [&](int64_t k) {
    for (auto& p : params) snapshot[k].push_back(p[k].detach().clone());
  };
  for (int64_t epoch = 0; epoch < o.max_epochs(); ++epoch) {
    // Each fold's training rows in a fresh random order (first n_train used).
    std::vector<Tensor> order;
    for (int64_t k = 0; k < folds; ++k) {
      const auto& ti = train_idx[k];
      order.push_back(ti.index_select(0, torch::randperm(ti.size(0), gen, torch::kLong).narrow(0, 0, n_train)));
    }
    Tensor idx = torch::stack(order);  // [F, n_train]
    Tensor epoch_loss = torch::zeros({folds}, torch::kFloat64);
    for (int64_t start = 0; start < n_train; start += batch) {
      const int64_t len = std::min(batch, n_train - start);
      Tensor bi = idx.narrow(1, start, len);
      Tensor xb = x.index_select(0, bi.reshape(-1)).view({folds, len, d});
      Tensor yb = y.index_select(0, bi.reshape(-1)).view({folds, len});
      torch::AutoGradMode grad_on(true);
      Tensor logits = nets.forward(xb);
      Tensor loss = torch::binary_cross_entropy_with_logits(logits, yb, {}, {}, at::Reduction::None).mean(1);
      Tensor l2 = torch::zeros({folds});
      for (auto& w : nets.w) l2 = l2 + w.pow(2).sum({1, 2});
      loss = loss + 0.5 * o.alpha() * l2 / static_cast<double>(len);
      adam.zero_grad();
      loss.sum().backward();
      adam.step();
      epoch_loss += loss.detach().to(torch::kFloat64) * static_cast<double>(len);
    }
    epoch_loss /= static_cast<double>(n_train);
    auto el = epoch_loss.accessor<double, 1>();
    bool all_done = true;
    for (int64_t k = 0; k < folds; ++k) {
      if (done[k]) continue;
      epochs[k] = epoch + 1;
      // scikit-learn's rule: no improvement by tol counts as a stall.
      if (el[k] > best[k] - o.tol()) ++stall[k]; else stall[k] = 0;
      if (el[k] < best[k]) best[k] = el[k];
      if (stall[k] > o.n_iter_no_change()) {
        done[k] = true;
        take_snapshot(k);
      }
      all_done = all_done && done[k];
    }
    if (all_done) break;
  }
  for (int64_t k = 0; k < folds; ++k)
    if (!done[k]) take_snapshot(k);

  C2stResult result;
  for (int64_t k = 0; k < folds; ++k) {
    const auto& s = snapshot[k];  // w0, w1, w2, b0, b1, b2
    Tensor h = x.index_select(0, test_idx[k]);
    h = torch::relu(torch::addmm(s[3], h, s[0]));
    h = torch::relu(torch::addmm(s[4], h, s[1]));
    Tensor logit = torch::addmm(s[5], h, s[2]).squeeze(1);
    Tensor truth = y.index_select(0, test_idx[k]);
    const double acc = ((logit > 0).to(torch::kFloat32) == truth).to(torch::kFloat64).mean().item<double>();
    result.fold_accuracy.push_back(acc);
    result.fold_epochs.push_back(epochs[k]);
    result.accuracy += acc / static_cast<double>(folds);
  }
  return result;
}

}  // namespace amortized
