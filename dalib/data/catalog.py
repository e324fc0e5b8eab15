"""Known benchmarks: domains, classes, files, sha256 and preprocessing.

``load_dataset(name, root)`` returns the dataset's domains, ready for the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dalib.data.digits import rotated_digits
from dalib.data.domain import Domain, check_compatible, tensor_domain
from dalib.data.features import PREPROCESSORS, load_feature_file
from dalib.data.folder import image_folder_domain
from dalib.data.image_tensors import image_tensor_domain
from dalib.errors import DalibError

OFFICE10 = ("backpack", "bike", "calculator", "headphones", "keyboard",
            "laptop", "monitor", "mouse", "mug", "projector")


@dataclass(frozen=True)
class DomainSpec:
    """One domain of a catalog entry: its file (relative to the dataset folder) and keys."""

    name: str
    short: str
    file: str = ""
    x_key: str = "fts"
    y_key: str = "labels"


@dataclass(frozen=True)
class DatasetSpec:
    """A named benchmark. ``kind`` is ``features``, ``images`` or ``embedded``.

    ``sha256`` maps each file (relative to ``folder``) to its digest; for image folders
    ``manifest`` names a ``sha256sum``-style list whose own digest is in ``sha256``.
    """

    name: str
    kind: str
    domains: tuple[DomainSpec, ...]
    class_names: tuple[str, ...]
    folder: str = ""
    label_offset: int = 0
    preprocess: str = "none"
    sha256: dict[str, str] = field(default_factory=dict)
    manifest: str = ""
    note: str = ""

    def domain(self, key: str) -> DomainSpec:
        """Find a domain by name or short name (case-insensitive)."""
        for d in self.domains:
            if key.lower() in (d.name.lower(), d.short.lower()):
                return d
        names = ", ".join(f"{d.name} ({d.short})" for d in self.domains)
        raise DalibError(f"dataset {self.name!r} has no domain {key!r}; choose from {names}")


def _surf(name: str, short: str) -> DomainSpec:
    return DomainSpec(name, short, f"{'Caltech10' if name == 'caltech10' else name}_SURF_L10.mat")


CATALOG: dict[str, DatasetSpec] = {spec.name: spec for spec in [
    DatasetSpec(
        "rotated-digits", "embedded",
        tuple(DomainSpec(f"rot{a}", f"R{a}") for a in (0, 30, 60, 90)),
        tuple(str(c) for c in range(10)),
        note="embedded default: scikit-learn digits rotated by 0/30/60/90 degrees, disjoint samples",
    ),
    DatasetSpec(
        "office-caltech10-surf", "features",
        (_surf("amazon", "A"), _surf("caltech10", "C"), _surf("dslr", "D"), _surf("webcam", "W")),
        OFFICE10, folder="office_caltech10_surf", label_offset=1, preprocess="surf",
        sha256={
            "amazon_SURF_L10.mat": "df32548b994e18d364c99e1f317e1fae100597259f0423a41b90f4f68187bb1f",
            "Caltech10_SURF_L10.mat": "4f9334c8ced489d5054de97a5fd51a61f017f3bcd1f38c9a85c6d78cb9d7bda5",
            "dslr_SURF_L10.mat": "44d673c68e1d07b837893aa74dba3b986e4a6cc3fd66f0dd357683bdef059216",
            "webcam_SURF_L10.mat": "a6a9c78b4b7181dfbb58bcfd351d4ebd737f171c31247b8884948aa156d3f700",
        },
        note="800-bin SURF histograms; rows divided by their sum, then z-scored per domain",
    ),
    DatasetSpec(
        "office-caltech10-images", "images",
        (DomainSpec("amazon", "A"), DomainSpec("caltech10", "C"), DomainSpec("dslr", "D"), DomainSpec("webcam", "W")),
        OFFICE10, folder="office_caltech10_images", manifest="SHA256SUMS",
        sha256={"SHA256SUMS": "6d740195eb6e4c633fc013f63b96dccb2d0310a7c7af70050556ecf3dfe34abf"},
        note="raw JPEGs, Office-31 folder layout",
    ),
    DatasetSpec(
        "mnist-usps", "features",
        (DomainSpec("mnist", "M", "MNIST_vs_USPS.mat", "X_src", "Y_src"),
         DomainSpec("usps", "U", "MNIST_vs_USPS.mat", "X_tar", "Y_tar")),
        tuple(str(c) for c in range(10)), folder="mnist_usps", label_offset=1,
        sha256={"MNIST_vs_USPS.mat": "2b87e5a793e77826417e6c483e0850d6666c9746717bce2561db43f3f30efd4d",
                "USPS_vs_MNIST.mat": "77d2df99e2aab8a722c8d4ff7c93a92d8b29d409a065f12e972168d1089e2971"},
        note="16x16 grey digits (JDA release), 2000 MNIST / 1800 USPS",
    ),
    DatasetSpec(
        "coil20", "features",
        (DomainSpec("coil1", "C1", "COIL_1.mat", "X_src", "Y_src"),
         DomainSpec("coil2", "C2", "COIL_1.mat", "X_tar", "Y_tar")),
        tuple(f"obj{c}" for c in range(1, 21)), folder="coil20", label_offset=1,
        sha256={"COIL_1.mat": "5001c5bcef8d95217d66a08bdccbcaae2bc8cd3142540ed4ec38ca0796342534",
                "COIL_2.mat": "61a351ef5fafeb97e14faef6108c5f2c6f7d50e255057773f9ffc046e03d8082"},
        note="32x32 grey objects, COIL1 / COIL2 (JDA release)",
    ),
    DatasetSpec(
        "amazon-review-400", "features",
        tuple(DomainSpec(n, s, f"{n}_400.mat") for n, s in
              (("books", "B"), ("dvd", "D"), ("elec", "E"), ("kitchen", "K"))),
        ("negative", "positive"), folder="amazon_review_400", preprocess="zscore",
        sha256={"books_400.mat": "7a53b54f0c0e81e7ee4774d762a927399cede9a802a2409732ba00cc1c23a17a",
                "dvd_400.mat": "13a71d399f9c7ae57064952979c830455057ffd0a8da73f2c9075338d64d98ce",
                "elec_400.mat": "f1dd6e01c1eed956d3abe6493a6bb5efc95e6585b8b9b2d856c0c07e12893a35",
                "kitchen_400.mat": "b1f4e5ddfbd7b37ad2638fccbf83bd8558abf63b3e8d69a9d5bca77b1a49fed5"},
        note="400 L1-normalised bag-of-words features (mSDA release), z-scored per domain",
    ),
    DatasetSpec(
        "msrc-voc2007", "features",
        (DomainSpec("msrc", "M", "MSRC_vs_VOC.mat", "X_src", "Y_src"),
         DomainSpec("voc2007", "V", "MSRC_vs_VOC.mat", "X_tar", "Y_tar")),
        tuple(f"class{c}" for c in range(1, 7)), folder="msrc_voc2007", label_offset=1, preprocess="zscore",
        sha256={"MSRC_vs_VOC.mat": "894d241f15d1b10e847ec23e32cfa98c20bac01ad2d3b0767983923d8a7dfd81"},
        note="240-d sparse features, z-scored per domain",
    ),
    DatasetSpec(
        "office-caltech10-decaf-partial", "features",
        (DomainSpec("dslr", "D", "dslr_decaf.mat", "feas"), DomainSpec("webcam", "W", "webcam_decaf.mat", "feas")),
        OFFICE10, folder="office_caltech10_decaf_partial", label_offset=1,
        sha256={"dslr_decaf.mat": "42443f5e82e98cbe6304cacdba905e24c8430ed977b3d6b7b279f088b76e108f",
                "webcam_decaf.mat": "e42207580fb1fadd3adba2504e1d8cff9620f464fca7536f9d7093f84c1459a3"},
        note="DeCAF6 4096-d; amazon and caltech10 are missing",
    ),
    DatasetSpec(
        "office-caltech10-googlenet-partial", "features",
        tuple(DomainSpec(n, s, f"{n}.mat") for n, s in (("amazon", "A"), ("dslr", "D"), ("webcam", "W"))),
        OFFICE10, folder="office_caltech10_googlenet1024_partial", label_offset=1,
        sha256={"amazon.mat": "bae9ee6e8f7ca305120dd970f2c90471f4ef8dda4cb2ad2404c38bb26cb56ba9",
                "dslr.mat": "5f7c6211581f846b7b5534429fb62bfb7e490e88aacfc8bee97eb0b0224dbd89",
                "webcam.mat": "57774bbdf97433b5fb5a6333e302f077444c069537138b60ef417f48ee65d296"},
        note="GoogleNet 1024-d; caltech10 is missing",
    ),
]}


def get_spec(name: str) -> DatasetSpec:
    """The catalog entry called ``name``."""
    try:
        return CATALOG[name]
    except KeyError:
        raise DalibError(f"unknown dataset {name!r}; `dalib data list` shows: {', '.join(CATALOG)}") from None


def dataset_dir(spec: DatasetSpec, root: Path | None) -> Path:
    """The dataset's folder under ``root``; raises naming the path when it is missing."""
    if root is None:
        raise DalibError(f"dataset {spec.name!r} needs files: pass --data-root or set DALIB_DATA")
    folder = Path(root) / spec.folder
    if not folder.is_dir():
        raise DalibError(f"dataset folder not found: {folder}; set --data-root or DALIB_DATA to the folder holding {spec.folder}/")
    return folder


def load_dataset(name: str, root: Path | None = None, domains: list[str] | None = None,
                 image_size: int = 64) -> list[Domain]:
    """Load the named dataset's domains (all, or those named in ``domains``) in catalog order.

    Image domains are decoded and resized to ``image_size`` once (cached on disk, see
    `dalib.data.image_tensors`) and held in memory as normalised (n, 3, s, s) tensors; the
    default 64 px keeps ResNet training CPU-sized."""
    spec = get_spec(name)
    wanted = [spec.domain(d) for d in domains] if domains else list(spec.domains)
    if spec.kind == "embedded":
        keep = {d.name for d in wanted}
        return [d for d in rotated_digits() if d.name in keep]
    folder = dataset_dir(spec, root)
    if spec.kind == "images":
        loaded = [image_tensor_domain(image_folder_domain(folder, d.name, d.short), image_size) for d in wanted]
    else:
        loaded = []
        for d in wanted:
            x, y = load_feature_file(folder / d.file, d.x_key, d.y_key, spec.label_offset)
            x = PREPROCESSORS[spec.preprocess](x).astype(np.float32)
            loaded.append(tensor_domain(d.name, d.short, list(spec.class_names), x, y))
    check_compatible(loaded)
    return loaded
