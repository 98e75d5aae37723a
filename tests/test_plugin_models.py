"""A user's model reached by entry point and by import path: trained on 2 CPU processes, reloaded
and served by fresh processes that know it only by its name; and the errors of bad references."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from recbole_hug import registry
from recbole_hug.errors import ConfigError
from recbole_hug.quick_start import load_data_and_model, main
from recbole_hug.utils import get_model
from tests.conftest import FAST_OPTIONS
from tests.test_distributed import free_port
from tests.toy.toy_model import ToySeq, ToySeqDataset, ToySeqTrainer

REPO = Path(__file__).resolve().parents[1]
FAST = [f"--{key}={value}" for key, value in FAST_OPTIONS.items()]
#: The entry points of the fake installed package ``toy-plugin``.
ENTRY_POINTS = {
    "ToyEP": "tests.toy.toy_model:ToySeq",
    "BrokenEP": "tests.toy.no_such_module:ToySeq",
    "NotAModelEP": "collections:OrderedDict",
}


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on ``sys.path`` (and ``PYTHONPATH``, for child processes) holding the metadata of
    an installed package ``toy-plugin`` that declares :data:`ENTRY_POINTS`."""
    site = tmp_path / "site"
    info = site / "toy_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n")
    lines = [f"{name} = {value}" for name, value in ENTRY_POINTS.items()]
    (info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\n" + "\n".join(lines))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(REPO)]))
    yield site
    for name in [*ENTRY_POINTS, "tests.toy.toy_model:ToySeq"]:
        registry.unregister(name)


@pytest.mark.parametrize("name", ["ToyEP", "tests.toy.toy_model:ToySeq"])
def test_a_model_by_entry_point_or_import_path_trains_on_two_processes_and_is_served(
    name: str, plugin_site: Path, tiny_data: Path, workdir: Path
) -> None:
    spec = registry.get_spec(name)
    assert (spec.model_class, spec.dataset_class, spec.trainer_class) == (
        ToySeq,
        ToySeqDataset,
        ToySeqTrainer,
    )
    assert spec.config_file == REPO / "tests" / "toy" / "ToySeq.yaml"  # found beside the module
    registry.unregister(name)  # the workers below know the model by its name alone
    flags = [f"--model={name}", "-d", "tiny", f"--data_path={tiny_data}", "--use_gpu=False"]
    assert main([*flags, *FAST, "--nproc=2", f"--port={free_port()}"]) == 0
    (checkpoint,) = (workdir / "saved").glob("*.pth")
    assert checkpoint.name.startswith(f"{name}-")

    registry.unregister(name)
    config, model, *_ = load_data_and_model(str(checkpoint))
    assert type(model) is ToySeq and config["toy_embedding_size"] == 8  # the yaml beside it
    saved = torch.load(checkpoint, weights_only=True)["state_dict"]
    torch.testing.assert_close(model.state_dict(), saved)

    served = subprocess.run(
        [sys.executable, "-m", "recbole_hug.serve", str(checkpoint), "--users", "u1", "--topk=3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert served.returncode == 0, served.stderr
    assert [line.split()[:2] for line in served.stdout.splitlines()[1:]] == [
        ["u1", "1"],
        ["u1", "2"],
        ["u1", "3"],
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_such_package.models:Model", "cannot import module 'no_such_package.models'"),
        ("tests.toy.toy_model:Missing", "module 'tests.toy.toy_model' has no attribute 'Missing'"),
        ("tests.toy.toy_model:", "expected a module and a class"),
        ("tests.toy.toy_model:ToySeqTrainer", "which is not a RecBole model"),
        ("BrokenEP", "entry point 'BrokenEP = tests.toy.no_such_module:ToySeq' (group"),
        ("NotAModelEP", "of toy-plugin) gives <class 'collections.OrderedDict'>, which is not a"),
    ],
)
def test_a_reference_that_does_not_resolve_is_named(
    name: str, message: str, plugin_site: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        get_model(name)
    assert message in str(caught.value) and name.partition(":")[0] in str(caught.value)


def test_a_bad_import_path_on_the_command_line_is_one_error_line(
    tiny_data: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--model=tests.toy.toy_model:Missing", "-d", "tiny", f"--data_path={tiny_data}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model import path 'tests.toy.toy_model:Missing'")
    assert "Traceback" not in err


def test_installed_entry_points_are_listed_among_the_plugin_models(plugin_site: Path) -> None:
    assert {"HUGT", "HGGNN", "ToyEP"} <= set(registry.registered_models())
