"""Shared fixtures: generated FER2013 data and one smoke-trained run, built once per session."""

from __future__ import annotations

import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Each test session gets a Gradio cache of its own, before Gradio is imported: a test that checks what the demo
# wrote there (the webcam test: nothing) must not see another process's uploads in a shared /tmp/gradio.
GRADIO_CACHE = tempfile.mkdtemp(prefix="fer-tests-gradio-")
os.environ["GRADIO_TEMP_DIR"] = GRADIO_CACHE

import pytest  # noqa: E402

from tests.fer_fixtures import make_examples, write_csv, write_ferplus_csv  # noqa: E402

SMALL = {"train": 140, "validation": 42, "test": 35}


def pytest_addoption(parser):
    parser.addoption(
        "--durations-file",
        metavar="PATH",
        help="write every test's duration (setup + call + teardown, seconds), slowest first, as TSV to PATH",
    )
    parser.addoption(
        "--test-seed",
        type=int,
        default=0,
        help="seed of Python's, NumPy's and TensorFlow's global generators before every test and session fixture "
        "(default: 0). A test that passes under one seed and fails under another depends on chance: run the suite "
        "with several seeds to find such tests.",
    )


def seed_everything(seed: int) -> None:
    """Seed Python's and NumPy's global generators, and TensorFlow's and Keras' if TensorFlow is loaded.

    TensorFlow is not imported here: a test that does not use it must not pay for it.
    """
    import random
    import sys

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)


@pytest.fixture(autouse=True)
def _seeded(request):
    """Every test starts from the same global random state (``--test-seed``), whatever ran before it."""
    seed_everything(request.config.getoption("--test-seed"))


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """Session, package, module and class fixtures start from ``--test-seed`` too: pytest sets them up before the
    first test that needs them runs ``_seeded``, so they would see whatever state the test before left."""
    if fixturedef.scope != "function":
        seed_everything(request.config.getoption("--test-seed"))
    return (yield)


_DURATIONS: dict[str, float] = {}  # test id -> seconds, summed over setup, call and teardown


def pytest_runtest_logreport(report):
    _DURATIONS[report.nodeid] = _DURATIONS.get(report.nodeid, 0.0) + report.duration


# Test files that read the session's smoke pipeline run (tests/orchestration/conftest.py), the costliest fixture.
SHARED_RUN_TESTS = "tests/orchestration/"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """How pytest-xdist (``make test``: two workers) shares the tests out: a test file runs whole on one worker, so
    its module fixtures are built once and its tests keep their order, and the pipeline's tests all run on one
    worker, so the smoke pipeline run they read is made once. (``--dist loadgroup`` would say this with marks, but
    xdist 3.8 cannot set the group on pytest 9.2's test ids.)"""
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return SHARED_RUN_TESTS if nodeid.startswith(SHARED_RUN_TESTS) else nodeid.split("::", 1)[0]

    return FileScheduling(config, log)


def pytest_sessionfinish(session):
    shutil.rmtree(GRADIO_CACHE, ignore_errors=True)
    path = session.config.getoption("--durations-file")
    # Under pytest-xdist the controller gets every worker's reports: only it writes the file.
    if path and not hasattr(session.config, "workerinput"):
        rows = sorted(_DURATIONS.items(), key=lambda item: -item[1])
        with open(path, "w") as f:
            f.write("seconds\ttest\n")
            f.writelines(f"{seconds:.3f}\t{nodeid}\n" for nodeid, seconds in rows)


@pytest.fixture(scope="session")
def test_seed(request) -> int:
    """``--test-seed``: session fixtures that train or draw at random seed themselves with it."""
    return request.config.getoption("--test-seed")


@pytest.fixture(scope="session")
def examples():
    return make_examples(SMALL)


@pytest.fixture(scope="session")
def fer_csv(tmp_path_factory, examples):
    """A generated fer2013.csv with all three Usage values."""
    return write_csv(tmp_path_factory.mktemp("fer") / "fer2013.csv", examples)


@pytest.fixture(scope="session")
def ferplus_csv(tmp_path_factory, examples):
    """A generated fer2013.csv (the session's faces, all three Usage values) with its fer2013new.csv beside it."""
    root = tmp_path_factory.mktemp("ferplus")
    write_ferplus_csv(root / "fer2013new.csv", examples)
    return write_csv(root / "fer2013.csv", examples)


@pytest.fixture(scope="session")
def eight_class(tmp_path_factory, test_seed):
    """An 8-class (FER+) tiny model, a run directory of it and its export through the parity gate
    (``tests.eight_class.EightClass``)."""
    from tests.eight_class import eight_class_model

    return eight_class_model(tmp_path_factory, test_seed)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """One prepared-dataset cache for the whole session."""
    return tmp_path_factory.mktemp("tfds")


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, fer_csv, data_dir):
    """A finished ``fer-train --preset smoke`` run directory on the generated data."""
    from pipeline.config import resolve_config
    from pipeline.train import train

    run_dir = tmp_path_factory.mktemp("runs") / "smoke"
    config = resolve_config("smoke", {"data": str(fer_csv), "data_dir": str(data_dir), "verbose": 0})
    train(config, run_dir)
    return run_dir


@pytest.fixture(scope="session")
def trained_tiny_model(tmp_path_factory, test_seed):
    """A seed_cnn_tiny trained to confident predictions on generated faces, saved as .keras.

    Returns (path, validation images, validation labels, training images).
    """
    import keras

    from model_zoo import create_model

    data = make_examples({"train": 700, "validation": 210}, seed=11)
    (x_train, y_train), (x_val, y_val) = data["train"], data["validation"]
    x_train, x_val = x_train[..., None], x_val[..., None]
    keras.utils.set_random_seed(test_seed)
    # Without dropout, and with a learning rate that decays to 0 so that BatchNorm's moving
    # statistics catch up with the final weights, the tiny model becomes right and confident
    # (99.5-100 % on these faces, every face's top class ahead by 0.1 or more, for seeds 0-4);
    # a gate on a model that guesses would only measure noise. At a constant 3e-3 the weights
    # still moved in the last epoch: 98 % in training mode but 32 % with the moving statistics
    # (measured on a 2-core x86 machine).
    epochs, batch_size = 20, 16
    learning_rate = keras.optimizers.schedules.CosineDecay(1e-2, decay_steps=epochs * -(-len(y_train) // batch_size))
    model = create_model("seed_cnn_tiny", conv_dropout=0.0, dense_dropout=0.0)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    model.save(path)
    return path, x_val, y_val, x_train


@pytest.fixture(scope="session")
def exported(tmp_path_factory, trained_tiny_model):
    """Every artifact of the tiny trained model, exported through the parity gate."""
    from export.exporter import export_all

    path, x_val, y_val, x_train = trained_tiny_model
    out = tmp_path_factory.mktemp("export") / "artifacts"
    return export_all(path, out, x_val, y_val, x_train[:100], extra_metadata={"dataset": {"source": "generated"}})


@pytest.fixture(scope="session")
def demo_url(exported):
    """The Gradio demo on the exported tiny model, served on 127.0.0.1 for the whole session."""
    from serving_demo.local_server import start_demo

    demo, url = start_demo(exported.out_dir, max_file_size="5mb")
    yield url
    demo.close()
