#!/usr/bin/python3
"""PyTorch companions of ../shared/bench/torch_tamrl_step.py for tamflux's `deno task bench:step`.

Same shapes, model definitions, loss and optimizer as the shared TAM-RL reference; two more cases:
  lstm     one training step of the plain LSTM model: Linear(F -> H) -> LSTM(H) -> Linear(H -> 3),
           same loss (last 15 days, qc * w weighted, + 0.1 * balance), Adam lr 1e-3
  predict  one TAM-RL forward pass without gradients (prediction), batch B
Prints one JSON line with the keys of the shared reference. Usage: torch_step.py MODE [steps] [threads]
"""
import json, os, statistics, sys, time

mode = sys.argv[1] if len(sys.argv) > 1 else ""
if mode not in ("lstm", "predict"):
    sys.exit("usage: torch_step.py lstm|predict [steps] [threads]")
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 30
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(threads)
import torch  # noqa: E402

torch.set_num_threads(threads)
torch.manual_seed(0)
B, T, F, S, H, Z, LAST = 32, 30, 20, 21, 128, 32, 15


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = torch.nn.Linear(F + S, H)
        self.lstm = torch.nn.LSTM(H, H, batch_first=True, bidirectional=True)
        self.code = torch.nn.Linear(H, Z)

    def forward(self, x):
        _, (h, _) = self.lstm(torch.nn.functional.leaky_relu(self.inp(x), 0.2))
        return self.code(h[0] + h[1])


class Decoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.d, self.s, self.f = torch.nn.Linear(F, H), torch.nn.Linear(Z, H), torch.nn.Linear(Z, 2 * H)
        self.lstm = torch.nn.LSTM(H, H, batch_first=True)
        self.out = torch.nn.Linear(H, 3)

    def forward(self, x, z):
        s = torch.relu(self.s(z)).unsqueeze(1) + 1
        h, _ = self.lstm(s * self.d(x) + s)
        g, b = self.f(z).unsqueeze(1).chunk(2, dim=-1)
        return self.out((g + 1) * h + b)


class PlainLstm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = torch.nn.Linear(F, H)
        self.lstm = torch.nn.LSTM(H, H, batch_first=True)
        self.out = torch.nn.Linear(H, 3)

    def forward(self, x):
        h, _ = self.lstm(self.inp(x))
        return self.out(h)


x_dyn, x_static = torch.randn(B, T, F), torch.randn(B, T, S)
y, qc, w = torch.randn(B, T, 3), torch.rand(B, T), torch.rand(B, 1)


def loss_of(p):
    p = p[:, -LAST:]
    data = (qc[:, -LAST:] * w * ((p - y[:, -LAST:]) ** 2).mean(-1)).mean()
    balance = ((p[..., 2] - (p[..., 1] - p[..., 0])) ** 2).mean()
    return data + 0.1 * balance


if mode == "lstm":
    model = PlainLstm()
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def step():
        opt.zero_grad()
        loss = loss_of(model(x_dyn))
        loss.backward()
        opt.step()
        return loss.item()
else:
    enc, dec = Encoder(), Decoder()

    def step():
        with torch.no_grad():
            p = dec(x_dyn, enc(torch.cat([x_dyn, x_static], -1)))
        return p.sum().item()

for _ in range(3):
    step()
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"impl": "pytorch-" + torch.__version__, "threads": torch.get_num_threads(),
                  "ms_per_step": round(statistics.median(times), 2), "min_ms": round(min(times), 2),
                  "steps": steps, "B": B, "T": T, "F": F, "S": S, "H": H, "Z": Z}))
