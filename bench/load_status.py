"""Does the app stay responsive while it trains? Target: 0 errors, p95 <= 200 ms.

Starts `python app.py` on a free port and a fresh workspace (the demo set), starts one training
through the API (yolov11n, the quick preset, enough epochs to outlast the test), then 10
`gradio_client` clients each poll `/training_status` and `/list_runs` in turn for 60 s, each
call ``--interval`` seconds after the previous one started (1 s: the target's pace, ten people
watching; 0: as fast as the answers come, a stress test). ``--client
http`` makes the same calls as plain HTTP POSTs to ``/gradio_api/run/<name>`` (both endpoints
skip Gradio's queue), which leaves out gradio_client's own overhead (about 55 ms a call here,
measured idle: 85 ms through gradio_client against 30 ms by HTTP). Prints the calls, errors and latency percentiles (ms) per endpoint, and
the training's images/s during the load next to its images/s before it (the baseline).

    .venv/bin/python bench/load_status.py [--clients 10] [--seconds 60] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
import urllib.request

import report  # bench/ is the script's folder, so on sys.path
from served_app import served_app

TARGET_P95_MS = 200.0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def one_run(args) -> dict:
    """One app, one training, ``args.clients`` viewers for ``args.seconds``: latencies (ms) by
    endpoint, errors, and the training's images/s before and under the load."""
    with served_app("yolov11-load-") as (url, _):
        from gradio_client import Client

        main_client = Client(url, verbose=False)
        run, _, _ = main_client.predict("demo-hardhat", "yolov11n", 200, 320, 8, "cpu", None, api_name="/start_training")
        while not (main_client.predict(run, api_name="/training_status").get("images_per_s")):
            time.sleep(1)
        time.sleep(10)  # a few batches without load: the baseline speed
        baseline = main_client.predict(run, api_name="/training_status")["images_per_s"]

        latencies: dict[str, list[float]] = {"/training_status": [], "/list_runs": []}
        errors: list[str] = []
        lock = threading.Lock()
        end = time.time() + args.seconds

        def http_call(*inputs, api_name: str) -> dict:
            body = json.dumps({"data": list(inputs)}).encode()
            request = urllib.request.Request(f"{url}gradio_api/run{api_name}", data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as r:
                return json.loads(r.read())

        def client_loop() -> None:
            call = Client(url, verbose=False).predict if args.client == "gradio" else http_call
            calls = (("/training_status", (run,)), ("/list_runs", ()))
            k = 0
            while time.time() < end:
                name, inputs = calls[k % 2]
                k += 1
                t = time.perf_counter()
                try:
                    call(*inputs, api_name=name)
                except Exception as exc:  # counted, not raised: the bench reports errors
                    with lock:
                        errors.append(f"{name}: {type(exc).__name__}: {exc}")
                    continue
                took = time.perf_counter() - t
                with lock:
                    latencies[name].append(took * 1000)
                time.sleep(max(args.interval - took, 0))

        load_before = os.getloadavg()[0]  # the machine's: other work on it moves these figures
        threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
        for th in threads:
            th.start()
        time.sleep(args.seconds / 2)
        under_load = main_client.predict(run, api_name="/training_status")["images_per_s"]
        for th in threads:
            th.join()
        main_client.predict(run, api_name="/stop_training")
    load = f"load {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    print(f"{'endpoint':<18} {'calls':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    everything = []
    for name, values in latencies.items():
        everything += values
        n_err = sum(e.startswith(name) for e in errors)
        print(f"{name:<18} {len(values):>6} {n_err:>6} {statistics.median(values) if values else float('nan'):>8.1f} "
              f"{_percentile(values, 0.95):>8.1f} {max(values, default=float('nan')):>8.1f}")
    p50 = statistics.median(everything) if everything else float("nan")
    p95 = _percentile(everything, 0.95)
    print(f"all calls: p50 {p50:.1f} ms, p95 {p95:.1f} ms, errors {len(errors)}; {load}")
    for e in errors[:5]:
        print("  error:", e)
    return {"p50": p50, "p95": p95, "errors": errors, "baseline": baseline, "under_load": under_load, "load": load}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--interval", type=float, default=1.0, help="seconds between one client's calls (0: back to back)")
    p.add_argument("--client", choices=["gradio", "http"], default="gradio", help="gradio_client, or plain HTTP POSTs")
    p.add_argument("--runs", type=int, default=3, help="whole runs (app, training, clients); the figures are the medians of theirs")
    report.add_json_flag(p)
    args = p.parse_args()
    report.start(args)
    pace = f"a call every {args.interval:g} s each" if args.interval else "back to back"
    print(f"{args.clients} {args.client} clients ({pace}) for {args.seconds:.0f} s "
          f"while yolov11n trains on the demo set (imgsz 320, batch 8, CPU), {args.runs} runs")
    runs = []
    for k in range(args.runs):
        print(f"run {k + 1}:")
        runs.append(one_run(args))
    p95s, p50s = [r["p95"] for r in runs], [r["p50"] for r in runs]
    p95, p50 = statistics.median(p95s), statistics.median(p50s)
    errors = [e for r in runs for e in r["errors"]]
    print(f"median of {args.runs} runs: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
          f"(target <= 200: {'met' if p95 <= 200 and not errors else 'NOT met'}), errors {len(errors)}")
    speeds = [(r["baseline"], r["under_load"]) for r in runs if r["baseline"] and r["under_load"]]
    ratios = [under / before for before, under in speeds]
    for before, under in speeds:
        print(f"training images/s: {before:.1f} before the load, {under:.1f} under it (ratio {under / before:.2f})")
    note = (f"{args.clients} {args.client} clients, {pace}, {args.seconds:.0f} s, while yolov11n trains (CPU); "
            f"median of {args.runs} runs, spread over their p95s")
    figures = [
        report.figure(f"status latency, {args.clients} viewers: p95", p95, "ms", target=f"p95 <= {TARGET_P95_MS:.0f} ms and 0 errors",
                      met=p95 <= TARGET_P95_MS and not errors, samples=p95s, note=note),
        report.figure(f"status latency, {args.clients} viewers: p50", p50, "ms", samples=p50s),
        report.figure("status calls that failed", len(errors), "errors", target="0", met=not errors),
    ]
    if speeds:
        figures.append(report.figure("training speed under the load", statistics.median(u for _, u in speeds), "images/s",
                                     baseline=statistics.median(b for b, _ in speeds), baseline_name="before the load",
                                     ratio=statistics.median(ratios), ratio_of="under load / before", samples=ratios))
    report.finish(args, "load_status", figures, [*(f"run {k + 1}: p95 {r['p95']:.0f} ms, p50 {r['p50']:.0f} ms; {r['load']}"
                                                   for k, r in enumerate(runs)),
                                                 *(f"error: {e}" for e in errors[:3])])


if __name__ == "__main__":
    main()
