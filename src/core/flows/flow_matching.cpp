#include "amortized/flows/flow_matching.h"

#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace amortized {

FlowMatchingImpl::FlowMatchingImpl(const FlowMatchingOptions& options_)
    : InferenceNetImpl(options_.dim(), options_.context_dim()), options(options_), loss_gen_(make_generator(0)) {
  TORCH_CHECK(options.dim() >= 1, "flow matching needs dim >= 1, got ", options.dim());
  TORCH_CHECK(options.context_dim() >= 0, "context_dim must be >= 0, got ", options.context_dim());
  TORCH_CHECK(options.time_frequencies() >= 0, "time_frequencies must be >= 0");
  TORCH_CHECK(options.sigma_min() >= 0 && options.sigma_min() < 1, "sigma_min must be in [0, 1)");
  TORCH_CHECK(options.steps() >= 1, "steps must be >= 1, got ", options.steps());
  TORCH_CHECK(options.solver() == "rk4" || options.solver() == "dopri5", "solver must be \"rk4\" or \"dopri5\", got \"",
              options.solver(), "\"");
  TORCH_CHECK(options.tolerance() > 0, "tolerance must be > 0, got ", options.tolerance());
  const int64_t n_time = 1 + 2 * options.time_frequencies();
  net_ = register_module("velocity", MLP(MLPOptions(options.dim() + n_time + options.context_dim(), options.dim())
                                             .hidden(options.hidden())
                                             .activation(options.activation())));
}

Tensor FlowMatchingImpl::velocity(const Tensor& theta_t, const Tensor& t, const Tensor& context) {
  std::vector<Tensor> parts = {theta_t, t.unsqueeze(1)};
  for (int64_t k = 0; k < options.time_frequencies(); ++k) {
    Tensor arg = t.unsqueeze(1) * (M_PI * std::pow(2.0, static_cast<double>(k)));
    parts.push_back(torch::sin(arg));
    parts.push_back(torch::cos(arg));
  }
  if (context_dim() > 0) parts.push_back(context);
  return net_->forward(torch::cat(parts, 1));
}

Tensor FlowMatchingImpl::loss(const Tensor& theta, const Tensor& context) {
  check_shape(theta, "theta", {-1, dim()});
  if (context_dim() > 0) check_shape(context, "context", {theta.size(0), context_dim()});
  if (!is_training()) loss_gen_ = make_generator(loss_seed_ + 1);
  const int64_t b = theta.size(0);
  auto cpu = theta.options().device(torch::kCPU);  // the generator's device; moved below
  Tensor t = torch::rand({b}, loss_gen_, cpu).to(theta.device());
  Tensor z = torch::randn({b, dim()}, loss_gen_, cpu).to(theta.device());
  const double s = 1 - options.sigma_min();
  Tensor theta_t = (1 - s * t).unsqueeze(1) * z + t.unsqueeze(1) * theta;
  Tensor target = theta - s * z;
  return (velocity(theta_t, t, context) - target).pow(2).sum(1).mean();
}

Tensor integrate_ode(const std::function<Tensor(const Tensor&, double)>& f, Tensor y, double t0, double t1,
                     const std::string& solver, int64_t steps, double tolerance) {
  if (solver == "rk4") {
    const double h = (t1 - t0) / static_cast<double>(steps);
    for (int64_t i = 0; i < steps; ++i) {
      const double t = t0 + i * h;
      Tensor k1 = f(y, t), k2 = f(y + 0.5 * h * k1, t + 0.5 * h);
      Tensor k3 = f(y + 0.5 * h * k2, t + 0.5 * h), k4 = f(y + h * k3, t + h);
      y = y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4);
    }
    return y;
  }
  TORCH_CHECK(solver == "dopri5", "unknown ODE solver \"", solver, "\"");
  // Dormand-Prince 5(4): the 5th-order solution advances, the difference to
  // the embedded 4th-order one estimates the error; first same as last.
  static const double a21 = 1.0 / 5, a31 = 3.0 / 40, a32 = 9.0 / 40, a41 = 44.0 / 45, a42 = -56.0 / 15,
                      a43 = 32.0 / 9, a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                      a54 = -212.0 / 729, a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247,
                      a64 = 49.0 / 176, a65 = -5103.0 / 18656, b1 = 35.0 / 384, b3 = 500.0 / 1113,
                      b4 = 125.0 / 192, b5 = -2187.0 / 6784, b6 = 11.0 / 84, e1 = 71.0 / 57600,
                      e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200, e6 = 22.0 / 525,
                      e7 = -1.0 / 40;
  const double span = t1 - t0, dir = span >= 0 ? 1.0 : -1.0;
  double t = t0, h = 0.05 * span;
  Tensor k1 = f(y, t);
  for (int64_t iter = 0; iter < 100000 && dir * (t1 - t) > 1e-12 * std::abs(span); ++iter) {
    if (dir * (t + h - t1) > 0) h = t1 - t;
    Tensor k2 = f(y + h * a21 * k1, t + h / 5);
    Tensor k3 = f(y + h * (a31 * k1 + a32 * k2), t + 3 * h / 10);
    Tensor k4 = f(y + h * (a41 * k1 + a42 * k2 + a43 * k3), t + 4 * h / 5);
    Tensor k5 = f(y + h * (a51 * k1 + a52 * k2 + a53 * k3 + a54 * k4), t + 8 * h / 9);
    Tensor k6 = f(y + h * (a61 * k1 + a62 * k2 + a63 * k3 + a64 * k4 + a65 * k5), t + h);
    Tensor y_new = y + h * (b1 * k1 + b3 * k3 + b4 * k4 + b5 * k5 + b6 * k6);
    Tensor k7 = f(y_new, t + h);
    Tensor err = h * (e1 * k1 + e3 * k3 + e4 * k4 + e5 * k5 + e6 * k6 + e7 * k7);
    Tensor scale = tolerance * (1 + torch::maximum(y.abs(), y_new.abs()));
    const double norm = (err / scale).pow(2).mean(1).sqrt().max().item<double>();
    if (!std::isfinite(norm)) {
      h *= 0.2;
      continue;
    }
    if (norm <= 1) {  // accept
      t += h;
      y = y_new;
      k1 = k7;
    }
    const double factor = norm == 0 ? 5.0 : std::min(5.0, std::max(0.2, 0.9 * std::pow(norm, -0.2)));
    h *= factor;
  }
  return y;
}

Tensor FlowMatchingImpl::sample(int64_t n, const Tensor& context, at::Generator& gen) {
  return draw_in_chunks(n, context, gen, [this](const Tensor& z, const Tensor& ctx) {
    auto v = [&](const Tensor& xs, double t) {
      return velocity(xs, torch::full({xs.size(0)}, t, xs.options()), ctx);
    };
    return integrate_ode(v, z, 0.0, 1.0, options.solver(), options.steps(), options.tolerance());
  });
}

Tensor FlowMatchingImpl::log_prob(const Tensor& theta, const Tensor& context) {
  check_shape(theta, "theta", {-1, dim()});
  if (context_dim() > 0) check_shape(context, "context", {theta.size(0), context_dim()});
  // The state (x, accumulated divergence); its derivative (velocity, exact
  // divergence: the trace of the Jacobian, one backward pass per dimension).
  const int64_t d = dim();
  auto field = [&](const Tensor& state, double t) {
    torch::AutoGradMode grad_on(true);
    Tensor xg = state.narrow(1, 0, d).detach().requires_grad_(true);
    Tensor vel = velocity(xg, torch::full({xg.size(0)}, t, xg.options()), context);
    Tensor div = torch::zeros({xg.size(0)}, xg.options());
    for (int64_t j = 0; j < d; ++j) {
      Tensor g = torch::autograd::grad({vel.select(1, j).sum()}, {xg}, {}, /*retain_graph=*/true)[0];
      div = div + g.select(1, j);
    }
    return torch::cat({vel.detach(), div.detach().unsqueeze(1)}, 1);
  };
  // From t = 1 back to 0: x ends at the base point, the last column at
  // -int_0^1 div v dt; log p1(theta) = log p0(x0) - int_0^1 div v dt.
  Tensor start = torch::cat({theta, torch::zeros({theta.size(0), 1}, theta.options())}, 1);
  Tensor end = integrate_ode(field, start, 1.0, 0.0, options.solver(), options.steps(), options.tolerance());
  Tensor x = end.narrow(1, 0, d), integral = end.select(1, d);
  const double log_norm = 0.5 * std::log(2.0 * M_PI) * static_cast<double>(d);
  return -0.5 * x.pow(2).sum(1) - log_norm + integral;
}

void FlowMatchingImpl::reset_parameters(at::Generator& gen) {
  net_->reset_parameters(gen);
  loss_seed_ = static_cast<uint64_t>(torch::randint(0, int64_t(1) << 62, {1}, gen).item<int64_t>());
  loss_gen_ = make_generator(loss_seed_);
}

std::vector<std::string> FlowMatchingImpl::describe() const {
  std::ostringstream out;
  out << "flow matching velocity MLP (" << dim() << " + time " << 1 + 2 * options.time_frequencies()
      << " + context " << context_dim() << " -> " << dim() << ", hidden";
  for (size_t i = 0; i < options.hidden().size(); ++i) out << (i ? "x" : " ") << options.hidden()[i];
  out << ", " << options.activation() << "), ";
  if (options.solver() == "rk4") {
    out << "RK4 with " << options.steps() << " steps";
  } else {
    out << "adaptive Dormand-Prince 5(4), tolerance " << options.tolerance();
  }
  return {out.str()};
}

}  // namespace amortized
