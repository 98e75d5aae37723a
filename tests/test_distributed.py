"""Multi-process (DDP) runs with 2 CPU processes (gloo): exact metrics, results, option checks."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import torch

from recbole_hug.compat import trusted_checkpoints
from recbole_hug.config import Config, available_cpus
from recbole_hug.errors import ConfigError
from recbole_hug.quick_start import _build, load_data_and_model, main, run, run_recbole_hug
from recbole_hug.utils import get_trainer
from tests.conftest import FAST_OPTIONS, write_tiny_dataset

METRICS = {"hit@10", "hit@20", "ndcg@10", "ndcg@20", "mrr@10", "mrr@20"}
HUGT_OPTIONS = {"svd_dim": 6, "hug_k": 2, "hidden_size": 16, "head_size": 8, "inner_size": 16}


@pytest.fixture(scope="module")
def odd_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """31 users: 31 validation and 31 test sequences, so that one process's share is padded
    with a duplicate (RecBole's DistributedSampler); 266 training rows, in batches of 64
    (FAST_OPTIONS) and a last one of 10, each split evenly between 2 processes."""
    return write_tiny_dataset(tmp_path_factory.mktemp("data"), n_users=31)


def free_port() -> str:
    """A TCP port that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return str(probe.getsockname()[1])


def evaluate_in_one_process(model: str, options: dict, checkpoint: Path) -> tuple[dict, dict]:
    """The validation and test metrics of a saved model, evaluated by this process alone."""
    config = Config(model, "tiny", config_dict=options)
    _, _, valid_data, test_data, network = _build(config, log=False)
    trainer = get_trainer(config["MODEL_TYPE"], model)(config, network)
    with trusted_checkpoints():
        return (
            trainer.evaluate(valid_data, model_file=str(checkpoint)),
            trainer.evaluate(test_data, model_file=str(checkpoint)),
        )


def test_two_processes_train_and_evaluate_as_one(odd_data: Path, workdir: Path) -> None:
    """GRU4Rec without dropout or shuffling, batches split evenly: the same run as one process.

    RecBole's own evaluation would count the padded duplicate and average the processes' metrics.
    """
    options = {
        **FAST_OPTIONS,
        "data_path": str(odd_data),
        "epochs": 2,
        "eval_batch_size": 4,
        "shuffle": False,
        "dropout_prob": 0.0,
    }
    ddp = run(
        "GRU4Rec",
        "tiny",
        config_dict={**options, "checkpoint_dir": "ddp"},
        nproc=2,
        port=free_port(),
    )
    (checkpoint,) = (workdir / "ddp").glob("GRU4Rec-*.pth")  # process 0's only
    assert set(ddp["test_result"]) == METRICS

    valid, test = evaluate_in_one_process("GRU4Rec", options, checkpoint)
    assert valid == ddp["best_valid_result"]
    assert test == ddp["test_result"]

    one = run_recbole_hug("GRU4Rec", "tiny", config_dict={**options, "checkpoint_dir": "one"})
    assert one["best_valid_result"] == ddp["best_valid_result"]
    assert one["test_result"] == ddp["test_result"]
    (one_checkpoint,) = (workdir / "one").glob("GRU4Rec-*.pth")
    trained = torch.load(checkpoint, weights_only=False)["state_dict"]
    for name, tensor in torch.load(one_checkpoint, weights_only=False)["state_dict"].items():
        torch.testing.assert_close(trained[name], tensor, rtol=0, atol=1e-5, msg=name)


def test_hugt_trains_in_two_processes(odd_data: Path, workdir: Path) -> None:
    options = {**FAST_OPTIONS, **HUGT_OPTIONS, "data_path": str(odd_data), "eval_batch_size": 4}
    ddp = run("HUGT", "tiny", config_dict=options, nproc=2, port=free_port())
    assert set(ddp["best_valid_result"]) == set(ddp["test_result"]) == METRICS
    (checkpoint,) = (workdir / "saved").glob("HUGT-*.pth")

    valid, test = evaluate_in_one_process("HUGT", options, checkpoint)
    assert valid == ddp["best_valid_result"]
    assert test == ddp["test_result"]
    config, *_ = load_data_and_model(str(checkpoint))  # without a process group
    assert config["single_spec"] and config["device"] == torch.device("cpu")


def test_more_processes_than_cpu_cores_is_one_error_line(
    tiny_data: Path, workdir: Path, capfd: pytest.CaptureFixture
) -> None:
    status = main(
        [
            "--model=GRU4Rec",
            "--dataset=tiny",
            f"--data_path={tiny_data}",
            f"--nproc={available_cpus() + 1}",
        ]
    )
    assert status == 2
    (line,) = capfd.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: option 'nproc' ({available_cpus() + 1}) is more than the")
    assert "CPU cores" in line
    assert not (workdir / "saved").exists()  # no process started


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend that CUDA is there with 2 GPUs (nothing runs on them)."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # restored after the test (Config sets it)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.mark.parametrize(
    ("options", "nproc", "world_size", "offset", "message"),
    [
        ({"gpu_id": "0,1"}, 3, 3, 0, "option 'nproc' (3) is more than the 2 GPU(s)"),
        ({"gpu_id": "0"}, 2, 2, 0, "option 'nproc' (2) is more than the 1 GPU(s) that gpu_id '0'"),
        ({"gpu_id": "0,1"}, 0, 2, 0, "option 'nproc' must be at least 1, got 0"),
        ({"gpu_id": "0,1"}, 2, 3, 2, "options 'group_offset' (2) and 'nproc' (2) give global"),
        ({"gpu_id": "0,1"}, 2, 2, -1, "options 'group_offset' (-1)"),
        ({"use_gpu": False}, 1000, 1000, 0, "option 'nproc' (1000) is more than the"),
    ],
)
def test_processes_must_fit_the_machine(
    two_gpus: None,
    tiny_data: Path,
    options: dict,
    nproc: int,
    world_size: int,
    offset: int,
    message: str,
) -> None:
    config = Config("GRU4Rec", "tiny", config_dict={"data_path": str(tiny_data), **options})
    with pytest.raises(ConfigError, match=re.escape(message)):
        config.check_processes(nproc, world_size, offset)


def test_gpus_are_used_only_when_asked_and_there(two_gpus: None, tiny_data: Path) -> None:
    config = Config("GRU4Rec", "tiny", config_dict={"data_path": str(tiny_data), "gpu_id": "0,1"})
    config.check_processes(2, 4, 2)  # the second machine of two, one process per GPU
    assert config.uses_cuda() and config["device"] == torch.device("cuda")
    on_cpu = Config("GRU4Rec", "tiny", config_dict={"data_path": str(tiny_data), "use_gpu": False})
    assert not on_cpu.uses_cuda() and on_cpu["device"] == torch.device("cpu")
    on_cpu.check_processes(min(2, available_cpus()), 2, 0)
