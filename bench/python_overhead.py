"""Per-call cost of a + b on 4-element float tensors in Python (python3-torch), the yardstick of
CallOverheadBenchmarks.AddSmall. Run: /usr/bin/python3 bench/python_overhead.py"""
import timeit

import torch

torch.set_num_threads(1)
a, b = torch.rand(4), torch.rand(4)
n = 200_000
times = sorted(t / n * 1e9 for t in timeit.repeat(lambda: a + b, number=n, repeat=15))
print(f"torch {torch.__version__}: a + b (4 floats) median {times[len(times) // 2]:.0f} ns, best {times[0]:.0f} ns per call (15 x {n} calls)")
