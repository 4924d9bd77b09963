#include "amortized/flows/flow_matching.h"

#include <torch/autograd.h>

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

Tensor FlowMatchingImpl::sample(int64_t n, const Tensor& context, at::Generator& gen) {
  auto [ctx, x] = repeat_for_draws(n, context, gen);
  const int64_t batch = context.size(0);
  const double h = 1.0 / static_cast<double>(options.steps());
  auto v = [&](const Tensor& xs, double t) {
    return velocity(xs, torch::full({xs.size(0)}, t, xs.options()), ctx);
  };
  for (int64_t i = 0; i < options.steps(); ++i) {  // RK4 from t = 0 to 1
    const double t = i * h;
    Tensor k1 = v(x, t), k2 = v(x + 0.5 * h * k1, t + 0.5 * h);
    Tensor k3 = v(x + 0.5 * h * k2, t + 0.5 * h), k4 = v(x + h * k3, t + h);
    x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4);
  }
  return x.reshape({batch, n, dim()});
}

Tensor FlowMatchingImpl::log_prob(const Tensor& theta, const Tensor& context) {
  check_shape(theta, "theta", {-1, dim()});
  if (context_dim() > 0) check_shape(context, "context", {theta.size(0), context_dim()});
  // (velocity, divergence) at (x, t); the divergence is the exact trace of
  // the Jacobian, one backward pass per dimension.
  auto field = [&](const Tensor& x, double t) {
    torch::AutoGradMode grad_on(true);
    Tensor xg = x.detach().requires_grad_(true);
    Tensor vel = velocity(xg, torch::full({x.size(0)}, t, x.options()), context);
    Tensor div = torch::zeros({x.size(0)}, x.options());
    for (int64_t j = 0; j < dim(); ++j) {
      Tensor g = torch::autograd::grad({vel.select(1, j).sum()}, {xg}, {}, /*retain_graph=*/true)[0];
      div = div + g.select(1, j);
    }
    return std::make_pair(vel.detach(), div.detach());
  };
  // Integrate x from t = 1 back to 0 and the divergence along the way (RK4).
  const double h = -1.0 / static_cast<double>(options.steps());
  Tensor x = theta, integral = torch::zeros({theta.size(0)}, theta.options());
  for (int64_t i = 0; i < options.steps(); ++i) {
    const double t = 1.0 + i * h;
    auto [k1, d1] = field(x, t);
    auto [k2, d2] = field(x + 0.5 * h * k1, t + 0.5 * h);
    auto [k3, d3] = field(x + 0.5 * h * k2, t + 0.5 * h);
    auto [k4, d4] = field(x + h * k3, t + h);
    x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4);
    integral = integral + (h / 6) * (d1 + 2 * d2 + 2 * d3 + d4);  // = -int_t^{t+|h|} div
  }
  // log p1(theta) = log p0(x0) - int_0^1 div v dt, and integral = -int_0^1 div v dt
  const double log_norm = 0.5 * std::log(2.0 * M_PI) * static_cast<double>(dim());
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
  out << ", " << options.activation() << "), RK4 with " << options.steps() << " steps";
  return {out.str()};
}

}  // namespace amortized
