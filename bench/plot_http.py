"""Bar chart of scripts/bench-http.sh results: requests/s per target and connection count.

usage: python3 bench/plot_http.py http.json http.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results = json.load(open(sys.argv[1]))
runs = results["runs"]
targets = [("ours", "ours (L1 + Redis)"), ("limit", "limit (static actix)"),
           ("peer", "peer (Express)"), ("bypass", "ours, cache bypassed")]
# A run without the reference peer has "peer": null: leave its bars out.
targets = [(key, label) for key, label in targets if all(run.get(key) for run in runs)]
width = 0.8 / len(targets)
fig, ax = plt.subplots(figsize=(8, 4.5))
for i, (key, label) in enumerate(targets):
    xs = [r + i * width for r in range(len(runs))]
    ax.bar(xs, [run[key]["rps"] for run in runs], width, label=label)
ax.set_xticks([r + (len(targets) - 1) / 2 * width for r in range(len(runs))])
ax.set_xticklabels([f"{run['conns']} connections" for run in runs])
ax.set_ylabel("requests/s")
ax.set_title(f"GET /api/courses/{{id}}, wrk on loopback, {results['date']}")
ax.legend()
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
