"""Known benchmarks: domains, classes, files, sha256 and preprocessing.

``load_dataset(name, root)`` returns the dataset's domains, ready for the trainer; ``name`` is a
catalog name or a folder of your own (`dalib.data.user_path`), resolved by `resolve_dataset`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dalib.data.digits import rotated_digits
from dalib.data.domain import Domain, check_compatible, tensor_domain
from dalib.data.features import PREPROCESSORS, load_feature_file
from dalib.data.folder import image_folder_domain
from dalib.data.image_tensors import image_tensor_domain
from dalib.data.root import find_data_root
from dalib.data.spec import DatasetSpec, DomainSpec
from dalib.data.text import load_sentiment
from dalib.data.user_path import load_path_domains, parse_reference, path_spec
from dalib.errors import DalibError

OFFICE10 = ("backpack", "bike", "calculator", "headphones", "keyboard",
            "laptop", "monitor", "mouse", "mug", "projector")


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


_SENTIMENT_SHA256 = {
    "sorted_data_acl/books/positive.review": "72c39d63dfd7edf77895de7c796f67e095f847f4b56bca0704aba3bbf57f23b9",
    "sorted_data_acl/books/negative.review": "562c58de7f739c9af2d62377ea2253ff73e89f69c84a332088f341cdb0e09660",
    "sorted_data_acl/dvd/positive.review": "fcf5207f79aa8af4910b5793c15fe90f25eb39501f9f4bdbd8f60a817224e28d",
    "sorted_data_acl/dvd/negative.review": "de1b539d29dc7edfbabf0ca4b1bce4e296d486533f3730012e4b49e36e762fa3",
    "sorted_data_acl/electronics/positive.review": "98daefad1056ec8d98fe910bdb50ae282695b9c2b89c2bc1513b9d2203b38a11",
    "sorted_data_acl/electronics/negative.review": "571287120d63e289753231804f33169b2ec4348ca6d24fa0d781a3a08e6376ff",
    "sorted_data_acl/kitchen/positive.review": "90ebec2b5a6ac040e16836c32b8efbd92ce98804b916c6367f7ade3b8d536798",
    "sorted_data_acl/kitchen/negative.review": "0ad1fa1f4539b47933fcef01be674b1246d1dc01403197c1439004cbaf4b543e",
    "processed_acl/books/positive.review": "d27a35a59e99b2c2d56731cad8d63870f8a3b9063a70bf8c18862e0a107cdd02",
    "processed_acl/books/negative.review": "42e4d7e63f429e396de0db87b814f8c6a4b4948d34c94524725b0fe2944a0ff4",
    "processed_acl/dvd/positive.review": "7e3a2655f9afd141bba569d0df6a4444f6bfa3c28daf243f21125c757940b563",
    "processed_acl/dvd/negative.review": "9f0c977cf863f361f1f9961dc9e8c2b88630902da3eb5fd880146445144c355d",
    "processed_acl/electronics/positive.review": "38d0ee5fd4147cfaff427b7f8c1ea9aacbb1fd383d51676288b7af5947fe039f",
    "processed_acl/electronics/negative.review": "497d95c1ce079d2db672f9d2efa9cc02ba4ebd2a525f7b2495233305def11616",
    "processed_acl/kitchen/positive.review": "30fd84894433ee9dd7f7aa3da6f858811104e364528719be2d77372295c7d3b3",
    "processed_acl/kitchen/negative.review": "674510d22f8f0b27790d323ef8633408777e92c122e801ee4ba02bb001d1d798",
}
_SENTIMENT = tuple(DomainSpec(n, s) for n, s in (("books", "B"), ("dvd", "D"), ("electronics", "E"), ("kitchen", "K")))
for _name, _rep, _len, _note in [
    ("amazon-sentiment", "minilm", 256, "raw reviews (title + text) embedded once by all-MiniLM-L6-v2: 384-d, "
     "mean-pooled, unit norm, cached; needs the [text] extra"),
    ("amazon-sentiment-tokens", "tokens", 128, "raw reviews as MiniLM token ids (max 128) for full fine-tuning "
     "(backbone minilm); needs the [text] extra"),
    ("amazon-sentiment-tokens-headtail", "tokens-headtail", 128, "raw reviews as MiniLM token ids (max 128; a "
     "longer review keeps its first 63 and last 63 tokens) for fine-tuning (backbone minilm); needs the [text] extra"),
    ("amazon-sentiment-counts", "counts", 0, "processed_acl unigram+bigram counts, 5000 tokens, log(1+c), "
     "rows L2-normalised"),
]:
    CATALOG[_name] = DatasetSpec(_name, "text", _SENTIMENT, ("negative", "positive"),
                                 folder="amazon_multidomain_sentiment_text", preprocess=_rep,
                                 sha256=_SENTIMENT_SHA256, note=_note, max_length=_len)


def resolve_dataset(name: str) -> DatasetSpec:
    """The catalog entry called ``name``, or the spec of the folder ``name`` (``PATH`` or
    ``PATH?x=NAME&y=NAME``, see `dalib.data.user_path`); raises naming both choices."""
    if name in CATALOG:
        return CATALOG[name]
    path, x_key, y_key = parse_reference(name)
    if path.exists():
        return path_spec(path, x_key, y_key)
    raise DalibError(f"unknown dataset {name!r}: not a catalog name (`dalib data list` shows: {', '.join(CATALOG)}) "
                     f"and no folder {str(path.resolve())!r} (paths are relative to the current directory)")


get_spec = resolve_dataset  # the name most callers use


def dataset_dir(spec: DatasetSpec, root: Path | None) -> Path:
    """The dataset's folder: a folder of your own as is, a catalog one under ``root`` (default
    ``$DALIB_DATA``, else ../shared/data); raises naming the path when it is missing."""
    if spec.layout:
        return Path(spec.folder)
    root = root if root is not None else find_data_root()
    if root is None:
        raise DalibError(f"dataset {spec.name!r} needs files: pass --data-root or set DALIB_DATA")
    folder = Path(root) / spec.folder
    if not folder.is_dir():
        raise DalibError(f"dataset folder not found: {folder}; set --data-root or DALIB_DATA to the folder holding {spec.folder}/")
    return folder


def load_dataset(name: str, root: Path | None = None, domains: list[str] | None = None,
                 image_size: int = 64) -> list[Domain]:
    """Load the domains (all, or those named in ``domains``) of a catalog dataset, in catalog
    order, or of a folder of your own; ``root`` defaults to ``$DALIB_DATA``, else ../shared/data.

    Image domains are decoded and resized to ``image_size`` once (cached on disk, see
    `dalib.data.image_tensors`) and held in memory as normalised (n, 3, s, s) tensors; the
    default 64 px keeps ResNet training CPU-sized. Text datasets need their representation
    registered (`import dalib.text`)."""
    spec = resolve_dataset(name)
    wanted = [spec.domain(d) for d in domains] if domains else list(spec.domains)
    if spec.kind == "embedded":
        keep = {d.name for d in wanted}
        return [d for d in rotated_digits() if d.name in keep]
    folder = dataset_dir(spec, root)
    if spec.layout:
        loaded = load_path_domains(spec, wanted, image_size)
    elif spec.kind == "text":
        loaded = load_sentiment(folder, [d.name for d in wanted], spec.preprocess, spec.max_length)
    elif spec.kind == "images":
        loaded = [image_tensor_domain(image_folder_domain(folder, d.name, d.short), image_size) for d in wanted]
    else:
        loaded = []
        for d in wanted:
            x, y = load_feature_file(folder / d.file, d.x_key, d.y_key, spec.label_offset)
            x = PREPROCESSORS[spec.preprocess](x).astype(np.float32)
            loaded.append(tensor_domain(d.name, d.short, list(spec.class_names), x, y))
    check_compatible(loaded)
    return loaded


def domain_sizes(name: str, root: Path | None) -> list[tuple[str, int]]:
    """(domain, number of samples) of a dataset; text datasets are counted from the raw
    reviews, without embedding or tokenizing them."""
    spec = get_spec(name)
    if spec.kind == "text" and not spec.layout:
        loaded = load_sentiment(dataset_dir(spec, root), [d.name for d in spec.domains], "raw", 0)
    else:
        loaded = load_dataset(name, root)
    return [(d.name, len(d)) for d in loaded]
