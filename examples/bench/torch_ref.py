"""PyTorch reference for g2g's benchmark: trains docs/design.md §5's Fashion-MNIST MLP
the way a PyTorch user of the G2G paper would, with masks applied as
F.linear(x, W * M), on random data, and prints one JSON line.

Usage: python3 torch_ref.py --model dense|g2g --density D --batch B --steps N --threads T
Run by `go run ./examples/bench`, which starts it in the same invocation as the Go
measurements so the ratio is measured side by side.
"""
import argparse
import json
import resource
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--model", default="g2g")
p.add_argument("--density", type=float, default=0.25)
p.add_argument("--batch", type=int, default=256)
p.add_argument("--steps", type=int, default=50)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--infer", type=int, default=10000)
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(1)
dims = [784, 1024, 1024, 1024, 10]
Ws, bs, Ms = [], [], []
for i in range(4):
    w = torch.empty(dims[i + 1], dims[i])
    torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")
    Ws.append(w.requires_grad_())
    bs.append(torch.zeros(dims[i + 1], requires_grad=True))
    if a.model == "g2g" and i < 3:
        Ms.append((torch.rand(dims[i + 1], dims[i]) < a.density).float())
    else:
        Ms.append(None)


def forward(x):
    for i in range(4):
        w = Ws[i] * Ms[i] if Ms[i] is not None else Ws[i]
        x = F.linear(x, w, bs[i])
        if i < 3:
            x = F.relu(x)
    return x


opt = torch.optim.Adam(Ws + bs, lr=1e-3)
x = torch.rand(a.batch, 784)
y = torch.randint(0, 10, (a.batch,))


def step():
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(forward(x), y)
    loss.backward()
    opt.step()


for _ in range(a.warmup):
    step()
t0 = time.perf_counter()
for _ in range(a.steps):
    step()
train = (time.perf_counter() - t0) / a.steps

xs = torch.rand(a.infer, 784)
with torch.no_grad():
    forward(xs[:1000])
    t0 = time.perf_counter()
    for s in range(0, a.infer, 1000):
        forward(xs[s : s + 1000])
    infer = time.perf_counter() - t0

print(json.dumps({
    "framework": "pytorch " + torch.__version__,
    "model": a.model, "density": a.density if a.model == "g2g" else 1.0,
    "sec_per_step": train, "infer_sec": infer,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    "threads": torch.get_num_threads(),
}))
