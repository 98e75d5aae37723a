"""The explicit registry and model lookup: plugin models first, then RecBole's."""

from __future__ import annotations

from pathlib import Path

import pytest
from recbole.data.dataset import SequentialDataset
from recbole.model.sequential_recommender import SASRec
from recbole.trainer import Trainer
from recbole.utils import ModelType

from recbole_hug import registry
from recbole_hug.config import Config
from recbole_hug.data.utils import get_dataset_class
from recbole_hug.distributed import distributed_trainer
from recbole_hug.errors import ConfigError
from recbole_hug.trainer import HugTrainerMixin
from recbole_hug.utils import get_model, get_trainer, recbole_model_names
from tests.toy.toy_model import ToySeq, ToySeqDataset, ToySeqTrainer


def test_registered_model_maps_to_its_classes_and_yaml(toy_model, tiny_data: Path) -> None:
    assert registry.get_spec("ToySeq") is toy_model
    assert "ToySeq" in registry.registered_models()
    assert get_model("ToySeq") is ToySeq
    trainer = get_trainer(ModelType.SEQUENTIAL, "ToySeq")
    assert trainer.__mro__[1:3] == (HugTrainerMixin, distributed_trainer(ToySeqTrainer))
    config = Config("ToySeq", "tiny", config_dict={"data_path": str(tiny_data)})
    assert get_dataset_class(config) is ToySeqDataset
    assert config["toy_embedding_size"] == 8


def test_shipped_models_are_registered_with_their_dataset_and_yaml() -> None:
    from recbole_hug.data.hugt_dataset import HUGTDataset
    from recbole_hug.model.hugt import HUGT

    spec = registry.get_spec("HUGT")
    assert spec.model_class is HUGT and spec.dataset_class is HUGTDataset
    assert spec.config_file == registry.default_config_file("HUGT") and spec.config_file.is_file()


def test_recbole_models_keep_recbole_classes(tiny_data: Path) -> None:
    assert get_model("SASRec") is SASRec
    trainer = get_trainer(ModelType.SEQUENTIAL, "SASRec")
    assert trainer.__mro__[1:3] == (HugTrainerMixin, distributed_trainer(Trainer))
    config = Config("SASRec", "tiny", config_dict={"data_path": str(tiny_data)})
    assert get_dataset_class(config) is SequentialDataset


def test_classes_may_be_registered_as_import_strings() -> None:
    spec = registry.register(
        "LazyToy", "tests.toy.toy_model:ToySeq", "tests.toy.toy_model:ToySeqDataset"
    )
    try:
        assert spec.model_class is ToySeq and spec.dataset_class is ToySeqDataset
        assert spec.trainer_class is None
    finally:
        registry.unregister("LazyToy")


def test_registering_twice_or_a_missing_yaml_is_an_error(toy_model, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'ToySeq' is already registered"):
        registry.register("ToySeq", ToySeq)
    with pytest.raises(ConfigError, match="config_file of model 'Other' does not exist"):
        registry.register("Other", ToySeq, config_file=tmp_path / "missing.yaml")


def test_unknown_model_lists_ours_and_recbole_models(toy_model) -> None:
    with pytest.raises(ConfigError) as error:
        get_model("SASrec")
    message = str(error.value)
    assert "unknown model 'SASrec'" in message and "Did you mean SASRec" in message
    assert "recbole-hug models: HGGNN, HUGT, ToySeq" in message
    assert "BERT4Rec" in message and "GRU4Rec" in message and "BPR" in message
    assert "lightgbm" not in message.lower().split("recbole models")[0]


def test_unknown_model_is_not_a_lightgbm_import_error() -> None:
    with pytest.raises(ConfigError, match="unknown model 'NoSuchModel'"):
        Config("NoSuchModel", "ml-100k")


def test_recbole_model_names_cover_every_family() -> None:
    names = recbole_model_names()
    for name in ("BPR", "Pop", "FM", "SASRec", "BERT4Rec", "FPMC", "FOSSIL", "SRGNN", "CKE"):
        assert name in names
