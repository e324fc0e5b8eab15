"""Time per training step of each built-in method ÷ source-only's, on Office-Caltech10 SURF A→W
(bench profile, one thread). Written by `python benchmarks/method_cost.py --write`: rerun it after
adding a method (a test checks that every built-in method has an entry)."""

SOURCE_ONLY_STEPS_PER_S = 746

RELATIVE_STEP_TIME: dict[str, float] = {
    "adda": 3.1,
    "afn": 1.7,
    "bnm": 1.6,
    "bsp": 2.1,
    "bss": 1.3,
    "cdan": 4.7,
    "cdan_e": 4.7,
    "dan": 2.3,
    "dann": 2.9,
    "deep_coral": 1.9,
    "deepjdot": 2.3,
    "entropy": 1.4,
    "fixmatch": 2.9,
    "jan": 2.6,
    "l2sp": 1.4,
    "mcc": 1.6,
    "mcd": 7.3,
    "mdd": 1.9,
    "pada": 3.1,
    "pseudo_label": 1.5,
}
