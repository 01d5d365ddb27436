"""Loads the per-section modules of the benchmark scripts (bench/report_<section>.py,
bench/torch_<section>.py) in name order."""
import glob
import importlib.util
import os


def load_modules(prefix):
    mods = []
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(here, prefix + "*.py"))):
        spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods.append(mod)
    return mods
