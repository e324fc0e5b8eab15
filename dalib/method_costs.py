"""Time per training step of each built-in method ÷ source-only's, on Office-Caltech10 SURF A→W
(bench profile, one thread). Written by `python benchmarks/method_cost.py --write`: rerun it after
adding a method (a test checks that every built-in method has an entry)."""

SOURCE_ONLY_STEPS_PER_S = 272

RELATIVE_STEP_TIME: dict[str, float] = {
    "adda": 2.3,
    "afn": 1.3,
    "bnm": 1.6,
    "bsp": 1.6,
    "bss": 1.4,
    "cdan": 4.6,
    "cdan_e": 4.1,
    "dan": 2.0,
    "dann": 2.7,
    "deep_coral": 1.5,
    "deepjdot": 2.5,
    "entropy": 1.6,
    "fixmatch": 3.2,
    "jan": 3.0,
    "l2sp": 1.6,
    "mcc": 1.7,
    "mcd": 11.2,
    "mdd": 2.0,
    "pada": 3.2,
    "pseudo_label": 1.7,
}
