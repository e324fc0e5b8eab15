"""Shallow estimators beside skada, the scikit-learn-style peer (a script, not a test).

    pip install "skada==0.6.0"          # the peer; never needed by dalib or its tests
    python benchmarks/shallow_speed.py [--data-root PATH] [--repeats 3] [--methods coral,sa,tca,kmm]

On the 12 Office-Caltech10 SURF tasks under the published protocol (every source sample trains,
every target sample is predicted; row/sum + z-score features, `published_shallow_surf.py`), each
method runs once per task in dalib and in skada with the same settings and classifier, one BLAS
thread:

| method | dalib                                   | skada 0.6.0                                     |
|--------|-----------------------------------------|-------------------------------------------------|
| coral  | CORAL(reg=1) + 1-NN                     | CORAL(KNN(1), reg=1)                            |
| sa     | SubspaceAlignment(k=100) + 1-NN         | SubspaceAlignment(KNN(1), n_components=100, random_state=0) |
| tca    | TCA(k=30, mu=0.1, rbf) + 1-NN            | TransferComponentAnalysis(KNN(1), n_components=30, mu=0.1) |
| kmm    | KMM weights + logistic regression        | KMMReweight(LogisticRegression()) (Frank-Wolfe) |

Prints per method the fit+predict seconds summed over the 12 tasks (median of ``--repeats``),
their ratio (skada ÷ dalib: > 1 means dalib is faster) and both 12-task average accuracies.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

from published_shallow_surf import TASKS, load_domains  # the same folder: run from benchmarks/ or by path

from dalib.reweighting import KMM, ReweightedClassifier
from dalib.shallow import CORAL, TCA, ShallowDAClassifier, SubspaceAlignment

Run = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def knn() -> KNeighborsClassifier:
    return KNeighborsClassifier(n_neighbors=1)


def dalib_runs() -> dict[str, Run]:
    def adapted(make):
        return lambda Xs, ys, Xt: ShallowDAClassifier(make(), knn()).fit(Xs, ys, Xt).predict(Xt)
    return {"coral": adapted(lambda: CORAL(reg=1.0)), "sa": adapted(lambda: SubspaceAlignment(k=100)),
            "tca": adapted(lambda: TCA(k=30, mu=0.1, kernel="rbf")),
            "kmm": lambda Xs, ys, Xt: ReweightedClassifier(KMM(), LogisticRegression(max_iter=2000))
            .fit(Xs, ys, Xt).predict(Xt)}


def skada_runs() -> dict[str, Run]:
    import sklearn
    import skada

    sklearn.set_config(enable_metadata_routing=True)  # KMMReweight passes its weights to the classifier

    def peer(make):
        def run(Xs, ys, Xt):
            X = np.vstack([Xs, Xt])
            y = np.r_[ys, np.full(len(Xt), -1)]  # skada's convention for unlabelled target rows
            domain = np.r_[np.ones(len(Xs), dtype=int), -np.ones(len(Xt), dtype=int)]
            return make().fit(X, y, sample_domain=domain).predict(Xt, sample_domain=-np.ones(len(Xt), dtype=int))
        return run
    return {"coral": peer(lambda: skada.CORAL(knn(), reg=1.0)),
            "sa": peer(lambda: skada.SubspaceAlignment(knn(), n_components=100, random_state=0)),
            "tca": peer(lambda: skada.TransferComponentAnalysis(knn(), n_components=30, mu=0.1)),
            "kmm": peer(lambda: skada.KMMReweight(LogisticRegression(max_iter=2000).set_fit_request(sample_weight=True)))}


def measure(run: Run, data, repeats: int) -> tuple[float, float]:
    """(median over repeats of the seconds for all 12 tasks, average accuracy %)."""
    times, accs = [], []
    for _ in range(repeats):
        total, accs = 0.0, []
        for task in TASKS:
            (Xs, ys), (Xt, yt) = data[task[0]], data[task[2]]
            start = time.perf_counter()
            pred = run(Xs, ys, Xt)
            total += time.perf_counter() - start
            accs.append(100.0 * float(np.mean(pred == yt)))
        times.append(total)
    return statistics.median(times), float(np.mean(accs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default="coral,sa,tca,kmm")
    args = parser.parse_args()
    data = load_domains(args.data_root)
    ours, peers = dalib_runs(), skada_runs()
    print("| method | dalib s (12 tasks) | skada s | skada ÷ dalib | dalib avg % | skada avg % |")
    print("|---|---|---|---|---|---|")
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in args.methods.split(","):
            t_ours, a_ours = measure(ours[name], data, args.repeats)
            t_peer, a_peer = measure(peers[name], data, args.repeats)
            print(f"| {name} | {t_ours:.2f} | {t_peer:.2f} | {t_peer / t_ours:.2f} | {a_ours:.1f} | {a_peer:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
