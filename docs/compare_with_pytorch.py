"""numrnn's vanilla and stacked RNN against ``torch.nn.RNN``: the same numbers, name by name.

Run it from the top of the repository, with PyTorch installed::

    python docs/compare_with_pytorch.py

It copies a numrnn model's parameters into ``torch.nn.RNN`` + ``torch.nn.Linear`` (and a torch
model's into numrnn), runs both in float64 on the same batch, and prints the largest difference
of every output, final state, loss and gradient. ``docs/pytorch.md`` shows this file; the test
suite checks the name mapping without PyTorch (``tests/test_docs.py``) and runs this comparison
only where PyTorch is installed, since numrnn does not depend on it.

Shape legend: T steps, B batch, D input size, H hidden size, O output size, L layers.
"""

from __future__ import annotations

import numpy as np

import numrnn


def numrnn_to_torch(params: dict, num_layers: int) -> dict:
    """numrnn's parameters as the state dict of ``Net`` below (NumPy arrays, torch's names).

    ``torch.nn.RNN`` computes ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``;
    numrnn computes ``h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)``. So torch's weights are
    numrnn's transposed, and its two biases sum to ``b_h``: here all of ``b_h`` goes to
    ``bias_ih`` and ``bias_hh`` is zero.
    """
    state = {}
    for k in range(num_layers):  # torch counts layers from 0, numrnn from 1
        layer = f"layer{k + 1}."
        state[f"rnn.weight_ih_l{k}"] = params[layer + "W_xh"].T  # (H, D) for k = 0, else (H, H)
        state[f"rnn.weight_hh_l{k}"] = params[layer + "W_hh"].T  # (H, H)
        state[f"rnn.bias_ih_l{k}"] = params[layer + "b_h"].copy()  # (H,)
        state[f"rnn.bias_hh_l{k}"] = np.zeros_like(params[layer + "b_h"])
    state["linear.weight"] = params["output.W_hy"].T  # (O, H)
    state["linear.bias"] = params["output.b_y"].copy()  # (O,)
    return state


def torch_to_numrnn(state: dict, num_layers: int) -> dict:
    """The inverse of :func:`numrnn_to_torch`: transpose back, sum the two biases into ``b_h``."""
    params = {}
    for k in range(num_layers):
        layer = f"layer{k + 1}."
        params[layer + "W_xh"] = state[f"rnn.weight_ih_l{k}"].T
        params[layer + "W_hh"] = state[f"rnn.weight_hh_l{k}"].T
        params[layer + "b_h"] = state[f"rnn.bias_ih_l{k}"] + state[f"rnn.bias_hh_l{k}"]
    params["output.W_hy"] = state["linear.weight"].T
    params["output.b_y"] = state["linear.bias"].copy()
    return params


def torch_gradients_as_numrnn(grads: dict, num_layers: int) -> dict:
    """Torch's gradients under numrnn's names: ``∂/∂b_h`` is ``∂/∂b_ih`` (equal to ``∂/∂b_hh``)."""
    named = {}
    for k in range(num_layers):
        layer = f"layer{k + 1}."
        named[layer + "W_xh"] = grads[f"rnn.weight_ih_l{k}"].T
        named[layer + "W_hh"] = grads[f"rnn.weight_hh_l{k}"].T
        named[layer + "b_h"] = grads[f"rnn.bias_ih_l{k}"]
    named["output.W_hy"] = grads["linear.weight"].T
    named["output.b_y"] = grads["linear.bias"]
    return named


def make_torch_net(input_size: int, hidden_size: int, output_size: int, num_layers: int):
    """``torch.nn.RNN`` (time-major, tanh) under a linear output layer, in float64."""
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.RNN(
                input_size,
                hidden_size,
                num_layers=num_layers,
                nonlinearity="tanh",
                batch_first=False,
            )  # (T, B, D), as numrnn
            self.linear = torch.nn.Linear(hidden_size, output_size)

        def forward(self, x, h0):
            h, h_T = self.rnn(x, h0)  # h (T, B, H): the top layer; h_T (L, B, H)
            return self.linear(h), h_T

    return Net().double()


def compare(T=7, B=3, D=3, H=5, O=4, L=2, seed=0) -> dict:
    """The largest |numrnn - torch| of each output, final state, loss and gradient."""
    import torch

    # numrnn -> torch: a numrnn model with non-zero biases, copied into torch.
    model = numrnn.DeepRNN(D, H, O, num_layers=L, bias=0.1, seed=seed)
    net = make_torch_net(D, H, O, L)
    net.load_state_dict(
        {
            name: torch.from_numpy(value.copy())
            for name, value in numrnn_to_torch(model.params, L).items()
        }
    )

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, D))  # (T, B, D)
    h0 = [0.5 * rng.standard_normal((B, H)) for _ in range(L)]  # numrnn: one (B, H) per layer
    targets = rng.integers(-1, O, size=(T, B))  # -1: not counted
    targets[-1] = rng.integers(0, O, size=B)

    loss, grads, info = model.loss_and_grads(x, targets, loss="xent", h0=h0)

    y_torch, h_T_torch = net(torch.from_numpy(x), torch.from_numpy(np.stack(h0)))  # h0 (L, B, H)
    loss_torch = torch.nn.functional.cross_entropy(
        y_torch.reshape(T * B, O), torch.from_numpy(targets).reshape(T * B), ignore_index=-1
    )
    loss_torch.backward()
    torch_grads = {name: p.grad.numpy() for name, p in net.named_parameters()}

    differences = {
        "y (T, B, O)": np.abs(info.y - y_torch.detach().numpy()).max(),
        "h_T, every layer": max(
            np.abs(h - h_T_torch[l].detach().numpy()).max() for l, h in enumerate(info.final_state)
        ),
        "loss": abs(float(loss) - loss_torch.item()),
    }
    for name, value in torch_gradients_as_numrnn(torch_grads, L).items():
        differences[f"d {name}"] = np.abs(grads[name] - value).max()

    # torch -> numrnn: torch's own random initialisation (both biases non-zero), copied back.
    net = make_torch_net(D, H, O, L)
    state = {name: value.detach().numpy() for name, value in net.state_dict().items()}
    model.params.update(torch_to_numrnn(state, L))
    y, _ = model.forward(x, h0)
    y_torch, _ = net(torch.from_numpy(x), torch.from_numpy(np.stack(h0)))
    differences["y, torch's weights in numrnn"] = np.abs(y - y_torch.detach().numpy()).max()
    return differences


def main() -> int:
    differences = compare()
    width = max(len(name) for name in differences)
    for name, difference in differences.items():
        print(f"{name:<{width}}  max |numrnn - torch| = {difference:.1e}")
    worst = max(differences.values())
    print(("PASS" if worst < 1e-12 else "FAIL") + f": largest difference {worst:.1e} (float64)")
    return 0 if worst < 1e-12 else 1


if __name__ == "__main__":
    raise SystemExit(main())
