"""PyTorch reference for g2g's benchmark: trains docs/design.md §5's Fashion-MNIST MLP
the way a PyTorch user of the G2G paper would, with masks applied as
F.linear(x, W * M), on random data, and prints JSON.

Measure one model (one JSON line):
    python3 torch_ref.py --model dense|g2g --density D --batch B --steps N --threads T [--csr]
Probe (one JSON line per model and thread count, a few steps each):
    python3 torch_ref.py --probe dense,g2g:0.25 --threads 1,2 --steps 6

Run by `go run -tags openblas ./examples/bench`, which sets OPENBLAS_CORETYPE and
ATEN_CPU_CAPABILITY in this process's environment (both are read when the
libraries load) and starts it in the same invocation as the Go measurements.
Every line reports the OpenBLAS kernels in use (openblas_get_corename of the
OpenBLAS found in /proc/self/maps) and ATen's CPU capability.
"""
import argparse
import ctypes
import json
import re
import resource
import statistics
import time
import warnings

import torch
import torch.nn.functional as F

DIMS = [784, 1024, 1024, 1024, 10]
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")


def find_openblas():
    """Returns the loaded OpenBLAS (a ctypes handle) or None."""
    paths = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            f = line.split()
            if len(f) >= 6 and ".so" in f[5] and f[5] not in paths:
                paths.append(f[5])
    for p in sorted(paths, key=lambda p: "blas" not in p.lower()):
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            return lib
        except (OSError, AttributeError):
            continue
    return None


OPENBLAS = find_openblas()


def blas_info():
    if OPENBLAS is None:
        return {"blas": "no OpenBLAS loaded", "blas_core": ""}
    core = OPENBLAS.openblas_get_corename().decode()
    config = OPENBLAS.openblas_get_config().decode().split()
    version = config[1] if len(config) > 1 and config[0] == "OpenBLAS" else ""
    return {"blas": ("OpenBLAS %s (%s kernels)" % (version, core)).replace("  ", " "), "blas_core": core}


def cpu_capability():
    m = re.search(r"CPU capability usage:\s*(\S+)", torch.__config__.show())
    return m.group(1) if m else "unknown"


def set_threads(n):
    torch.set_num_threads(n)
    if OPENBLAS is not None:
        OPENBLAS.openblas_set_num_threads(n)


def build(model, density, seed=1):
    torch.manual_seed(seed)
    Ws, bs, Ms = [], [], []
    for i in range(4):
        w = torch.empty(DIMS[i + 1], DIMS[i])
        torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")
        Ws.append(w.requires_grad_())
        bs.append(torch.zeros(DIMS[i + 1], requires_grad=True))
        if model == "g2g" and i < 3:
            Ms.append((torch.rand(DIMS[i + 1], DIMS[i]) < density).float())
        else:
            Ms.append(None)
    return Ws, bs, Ms


def forward(params, x):
    Ws, bs, Ms = params
    for i in range(4):
        w = Ws[i] * Ms[i] if Ms[i] is not None else Ws[i]
        x = F.linear(x, w, bs[i])
        if i < 3:
            x = F.relu(x)
    return x


def forward_csr(params, x):
    """Inference with the masked weights as CSR matrices (torch.sparse.mm)."""
    Ws, bs, Ms = params
    csr = [(Ws[i] * Ms[i]).detach().to_sparse_csr() if Ms[i] is not None else None for i in range(4)]

    def run(x):
        for i in range(4):
            if csr[i] is not None:
                x = torch.sparse.mm(csr[i], x.t()).t() + bs[i]
            else:
                x = F.linear(x, Ws[i], bs[i])
            if i < 3:
                x = F.relu(x)
        return x

    return run


def trainer(params, batch):
    Ws, bs, _ = params
    opt = torch.optim.Adam(Ws + bs, lr=1e-3)
    x = torch.rand(batch, 784)
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward(params, x), y)
        loss.backward()
        opt.step()

    return step


def timed_steps(step, warmup, steps):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


def infer(run, xs):
    with torch.no_grad():
        run(xs[:1000])
        t0 = time.perf_counter()
        for s in range(0, xs.shape[0], 1000):
            run(xs[s : s + 1000])
        return time.perf_counter() - t0


def parse_model(spec):
    if spec == "dense":
        return "dense", 1.0
    kind, _, d = spec.partition(":")
    return kind, float(d)


def common():
    out = {"framework": "pytorch " + torch.__version__, "cpu_capability": cpu_capability(),
           "threads": torch.get_num_threads()}
    out.update(blas_info())
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="g2g")
    p.add_argument("--density", type=float, default=0.25)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", default="2")
    p.add_argument("--infer", type=int, default=10000)
    p.add_argument("--csr", action="store_true", help="also time inference through torch.sparse.mm on CSR weights")
    p.add_argument("--probe", default="", help="comma-separated models (dense, g2g:D): time a few steps per model and thread count")
    a = p.parse_args()
    threads = [int(t) for t in a.threads.split(",")]

    if a.probe:
        for spec in a.probe.split(","):
            model, density = parse_model(spec)
            params = build(model, density)
            step = trainer(params, a.batch)
            for t in threads:
                set_threads(t)
                times = timed_steps(step, a.warmup, a.steps)
                out = common()
                out.update({"model": model, "density": density, "sec_per_step": statistics.median(times)})
                print(json.dumps(out), flush=True)
        return

    set_threads(threads[0])
    params = build(a.model, a.density)
    train = sum(timed_steps(trainer(params, a.batch), a.warmup, a.steps)) / a.steps
    xs = torch.rand(a.infer, 784)
    masked = infer(lambda x: forward(params, x), xs)
    out = common()
    out.update({"model": a.model, "density": a.density if a.model == "g2g" else 1.0,
                "sec_per_step": train, "infer_sec": masked})
    if a.csr and a.model == "g2g":
        out["csr_infer_sec"] = infer(forward_csr(params, xs), xs)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
